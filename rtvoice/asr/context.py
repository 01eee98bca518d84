"""Context across segments (StreamingConfig.context): what each segment's decodes are given from the speech
before it. "text": the committed text of the previous finals as the prompt (Whisper's
condition_on_previous_text); "audio": the whole words of the previous final within context_audio_s before
the segment, their audio decoded again and their tokens forced as the decoder prefix (dropped from the
result). Dropped after a final that looked hallucinated and after a long pause; a decode that hears nothing
after its audio context is retried without it (docs/asr.md, "Context across segments")."""

from __future__ import annotations

from rtvoice.asr.config import StreamingConfig
from rtvoice.asr.tokenizer import WhisperTokenizer
from rtvoice.asr.transcript import Transcript, Word
from rtvoice.asr.window import SAMPLE_RATE


class SegmentContext:
    """The context of the open segment, and what is kept of the finals before it for the next one.

    Samples are stream samples. `start` and `tokens`: where the open segment's decodes begin (its audio
    context's first word, else the segment start) and the context words' tokens, forced before the committed
    ones.
    """

    def __init__(self, config: StreamingConfig, tokenizer: WhisperTokenizer):
        self.config = config
        self.tokenizer = tokenizer
        self.previous: list[int] = []  # text tokens of the earlier finals since the last reset
        self.last_words: list[tuple[int, int, list[int]]] = []  # last final: (start, end sample, tokens) a word
        self.last_speech_end: int | None = None  # stream sample at which the last final's speech ended
        self.start = 0
        self.tokens: list[int] = []

    def forget(self) -> None:
        """Drop what came before (a hallucination or a long pause): the next segment starts afresh."""
        self.previous, self.last_words, self.last_speech_end = [], [], None

    def open(self, segment_start: int, audio_base: int) -> bool:
        """A segment begins at `segment_start` (audio held from `audio_base` on): choose its context.
        Returns whether the context was dropped for a pause longer than context_reset_s."""
        pause = None if self.last_speech_end is None else segment_start - self.last_speech_end
        reset = pause is not None and pause > self.config.context_reset_s * SAMPLE_RATE
        if reset:
            self.forget()
        self._choose_audio(segment_start, audio_base)
        return reset

    def _choose_audio(self, segment_start: int, audio_base: int) -> None:
        """Audio context: the whole words of the last final that start within context_audio_s before the
        segment (and are still held), decoded again with their tokens forced, so the segment's first words are
        heard after the speech that led to them, as in long-form decoding."""
        self.start, self.tokens = segment_start, []
        if not self.config.audio_context or not self.last_words:
            return
        earliest = max(segment_start - int(self.config.context_audio_s * SAMPLE_RATE), audio_base)
        chosen = []
        for start, end, tokens in reversed(self.last_words):
            if start < earliest or end > segment_start:
                break
            chosen.insert(0, (start, tokens))
        if chosen:
            self.start = chosen[0][0]
            self.tokens = [t for _, tokens in chosen for t in tokens]

    def drop_audio(self, segment_start: int) -> None:
        """The open segment's decodes go on without their audio context."""
        self.tokens, self.start = [], segment_start

    def snapshot(self) -> tuple[int, list[int]]:
        """(start, tokens) as they are now, to tell later whether they changed."""
        return self.start, list(self.tokens)

    def unchanged_since(self, snapshot: tuple[int, list[int]]) -> bool:
        return snapshot == (self.start, self.tokens)

    def remember(self, result: Transcript, words: tuple[Word, ...]) -> bool:
        """Keep a final (`words`: with stream times, s) as context for the next segment, or drop the context
        after a hallucination (a final that fell back to the 30 s window or still looks wrong): it would be
        carried into what follows. Returns whether it was dropped."""
        if result.fell_back or result.problems:
            self.forget()
            return True
        if not result.tokens:
            return False
        self.previous = (self.previous + result.tokens)[-max(self.config.max_previous_tokens, 1):]
        pieces = self.tokenizer.split_words(result.tokens)
        if len(pieces) == len(words):
            self.last_words = [(int(round(w.start * SAMPLE_RATE)), int(round(w.end * SAMPLE_RATE)),
                                result.tokens[p.first:p.last]) for p, w in zip(pieces, words)]
        else:
            self.last_words = []
        self.last_speech_end = int(round(words[-1].end * SAMPLE_RATE)) if words else None
        return False

    def keep_from(self, audio_end: int) -> int:
        """First stream sample to keep between segments: history_s before `audio_end`, and the audio a next
        segment's context may need (the last final's words within context_audio_s of where a segment may
        start)."""
        keep = audio_end - int(self.config.history_s * SAMPLE_RATE)
        if self.config.audio_context and self.last_words:
            reach = int((self.config.context_audio_s + self.config.context_reset_s) * SAMPLE_RATE)
            keep = min(keep, max(self.last_words[0][0], audio_end - reach))
        return keep

    def prompt(self, context_tokens: list[int]) -> list[int]:
        """The text prompt of a decode forced to begin with `context_tokens` (the context words end the
        previous text: not given twice)."""
        if not self.config.text_context:
            return []
        return self.previous[:len(self.previous) - len(context_tokens)][-self.config.max_previous_tokens:]

    def prompt_after(self, frozen: list[int]) -> list[int]:
        """The text prompt of a decode after frozen committed words (`frozen`: their tokens), which are the
        segment's own text: the prompt even without text context across segments."""
        limit = self.config.max_previous_tokens
        return ((self.previous if self.config.text_context else []) + frozen)[-limit:] if limit else []

    def retry_s(self, token_probabilities: bool) -> float:
        """Segment audio (s) from which a partial that hears nothing after its audio context is retried
        without it: context_retry_s, or sure_retry_s with token probabilities (sure words only)."""
        if token_probabilities:
            return min(self.config.context_retry_s, self.config.sure_retry_s)
        return self.config.context_retry_s
