"""Streaming captions from VAD-gated speech segments: partial captions while the speaker talks, a final
caption with word timestamps at the end of each segment.

Policy (LocalAgreement-n, n = 2 by default, after Macháček et al. 2023, "Turning Whisper into Real-Time Transcription
System"):

- While a segment is open, the growing segment is decoded again every ``partial_interval_s`` of audio, at
  fixed points (segment start + k x interval), so captions do not depend on how the audio was chunked.
  Text tokens already committed are forced as the decoder's prefix, so they are not decoded again.
- Tokens become *committed* once the last ``agreement`` hypotheses agree on them, cut back to a word
  boundary that both hypotheses show (the next token starts a new word or is closing punctuation). A
  committed token never changes; the rest of the newest hypothesis is shown as *unstable* text.
- Frozen committed words (``StreamingConfig.freeze_committed_s``): once the committed words a long
  segment's decodes start with span more than freeze_committed_s, the decodes start at the first committed
  word within ``context_audio_s`` of the last one; the words before it are frozen: given as the text prompt,
  not decoded again, their word times kept from the decode that froze them. CTranslate2 forces a prefix token
  one decoder step at a time, as dearly as it generates one, so this bounds a decode however long the segment.
- A partial hypothesis that looks hallucinated (see :class:`~rtvoice.asr.whisper.HallucinationChecks`) is
  discarded (counted) rather than shown; the final decode falls back to Whisper's full 30 s window instead.
- At the end of a segment the whole segment is decoded once more (committed prefix forced) and a final
  caption with word times is emitted.
- Context across segments (``StreamingConfig.context``): every decode of a segment may be given the
  committed text before it as the prompt ("text", as Whisper's ``condition_on_previous_text``), and/or the
  last seconds of the previous final's audio with its words forced as the decoder prefix ("audio"; those
  words are decoded again and dropped from the result). The context is dropped after a final that looked
  hallucinated (it fell back to the 30 s window) and after a pause longer than ``context_reset_s``; a final
  that hears nothing after its audio context is decoded again without it, and so is a partial once the
  segment holds ``context_retry_s`` of audio (the next partials keep the context); with token
  probabilities, from ``sure_retry_s``, committing from those sooner retries only the words they are sure of.
- Prepared finals (``StreamingConfig.prepare_finals``, with the VAD's per-chunk speech probabilities passed
  to :meth:`accept_speech_probabilities` after :meth:`follow_speech`): the endpointer reports an end of
  speech only after ``min_silence`` of silence, at the sample where that silence began plus ``pad_after``.
  As soon as the VAD has told that a silence in the open segment lasts ``pad_after``
  (``StreamingConfig.prepare_on_silence``; else at the first decode point in it), the final is decoded on
  exactly the audio that end will cover, kept, and taken as a partial hypothesis. The end, when it comes
  there, emits the kept final: its decode overlaps the endpointer's wait. A prepared decode that the
  hallucination checks flag is decoded again on the 30 s window there and then, as the end would
  (``StreamingConfig.prepare_fallback``). Decode points in that silence are not decoded while it lasts;
  speech that resumes drops the kept final (counted) and is decoded at the next decode point as before.
- Overload: the caller passes ``decode=False`` to :meth:`partial` (or :meth:`accept_audio`) when it is
  behind; partial decodes are skipped (counted in :attr:`StreamingStats.skipped_partials`), never finals.
- Language detection (``WhisperConfig(language="auto")``, docs/translation.md "Which language is spoken"):
  the stream has a language, that of its last final. Partials decode in it (before the first final, each
  partial detects its own, and nothing is committed until a language is settled). Each final detects the
  language on its whole segment (at least ``min_detect_audio_s``; the same encoder pass, one decoder step):
  an unsure detection (below ``WhisperConfig.min_language_probability``) keeps the stream's language; a
  sure one in another language decodes the final again from scratch in it (the committed words, in the
  wrong language, are dropped; counted in ``language_redecodes``) and becomes the stream's language. With
  ``language_lock`` N, N finals in a row detected (surely) in one language lock the stream to it.
- A segment longer than ``max_segment_s`` is split: its committed words become a final, and the segment
  goes on from the end of the last committed word.

The class is driven by calls (no thread of its own): :meth:`start_segment`, :meth:`accept_audio`,
:meth:`end_segment`, :meth:`finish`. Each returns the caption events it produced.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from rtvoice.asr.commit import agreed_prefix
from rtvoice.asr.config import COMMIT_BOUNDARIES, CONTEXTS, StreamingConfig, StreamingStats
from rtvoice.asr.events import FINAL, PARTIAL, CaptionEvent
from rtvoice.asr.history import AudioHistory
from rtvoice.asr.prepared import WAIT, PreparedFinal, SpeechFollower
from rtvoice.asr.whisper import AUTO, FULL_WINDOW_FRAMES, HOP, SAMPLE_RATE, Transcript, WhisperRecognizer, Word

# Re-exported: the policy's public names stay importable from here.
__all__ = ["COMMIT_BOUNDARIES", "CONTEXTS", "FINAL", "PARTIAL", "CaptionEvent", "StreamingConfig",
           "StreamingRecognizer", "StreamingStats", "agreed_prefix"]


class StreamingRecognizer:
    """Partial and final captions for a stream of 16 kHz audio split into speech segments.

    Args:
        recognizer: a loaded :class:`WhisperRecognizer`.
        config: streaming policy.
        wall_time_of: maps a stream sample index to the wall-clock time (time.time()) it was captured; used
            for each event's latency. None: latencies are None.
        clock: wall clock for ``emitted_at`` (time.time).
    """

    def __init__(
        self,
        recognizer: WhisperRecognizer,
        config: StreamingConfig = StreamingConfig(),
        wall_time_of: Callable[[int], float | None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.recognizer = recognizer
        self.config = config
        self.wall_time_of = wall_time_of
        self.clock = clock
        self.tokenizer = recognizer.tokenizer
        self.stats = StreamingStats()
        self._audio = AudioHistory()
        self._segment_index = -1
        self._segment_start: int | None = None
        self._committed: list[int] = []
        self._hypotheses: list[list[int]] = []
        self._hypothesis_probs: list[list[float]] = []  # token probabilities of each of _hypotheses
        # Each of _hypotheses was decoded again without its audio context before the segment held
        # context_retry_s (StreamingConfig.sure_retry_s).
        self._hypothesis_retried: list[bool] = []
        self._retried = False  # the last decode was, as above
        self._next_partial = 0
        self._partials_shown = 0
        # Context from earlier speech (see StreamingConfig.context).
        self._previous: list[int] = []  # text tokens of the earlier finals since the last reset
        self._last_words: list[tuple[int, int, list[int]]] = []  # last final: (start, end sample, tokens) a word
        self._last_speech_end: int | None = None  # stream sample at which the last final's speech ended
        self._context_start = 0  # stream sample where the open segment's decodes begin (audio context)
        self._context_tokens: list[int] = []  # tokens of the context words, forced before the committed ones
        # Frozen committed words (StreamingConfig.freeze_committed_s): decodes start at stream sample
        # _decode_start, after the first _frozen committed tokens, whose words (times from the segment start)
        # are _frozen_words.
        self._decode_start = 0
        self._frozen = 0
        self._frozen_words: list[Word] = []
        # Language detection (see the module docstring).
        self._detects = bool(getattr(recognizer, "detects_language", False))
        self._stream_language: str | None = None  # the language of the last final
        self._agreeing = 0  # finals in a row surely detected in the stream's language
        # Prepared finals (see the module docstring).
        self._speech: SpeechFollower | None = None
        self._prepared: PreparedFinal | None = None
        self._silence_seen = -1  # start of the last trailing silence considered for a prepared final

    # -- state -----------------------------------------------------------------------------------------------
    @property
    def in_segment(self) -> bool:
        return self._segment_start is not None

    @property
    def audio_end(self) -> int:
        """Absolute index one past the last sample received."""
        return self._audio.end

    def partial_due(self) -> bool:
        """The audio has reached the next decode point of the open segment (a partial's, or a prepared final's)."""
        return self._due() is not None

    def follow_speech(self, threshold: float, neg_threshold: float, pad_after: int, chunk: int) -> None:
        """Prepared finals (``StreamingConfig.prepare_finals``): the caller will pass the VAD's speech
        probabilities to :meth:`accept_speech_probabilities`; `threshold`, `neg_threshold` and `pad_after`
        (samples) are the endpointer's, `chunk` the VAD's chunk (samples). Decode points then wait until
        the probabilities of the chunks before them are known."""
        if self.config.prepare_finals:
            self._speech = SpeechFollower(threshold, neg_threshold, int(pad_after), int(chunk))

    def accept_speech_probabilities(self, starts, probabilities) -> None:
        """The VAD's speech probability (0..1) of each chunk, by the stream sample it starts at; in stream
        order, no later than the audio they cover is decoded."""
        if self._speech is not None and len(starts):
            self._speech.accept(starts, probabilities)

    def _reach(self) -> int:
        """Decode points up to this stream sample may be decoded: the audio is there and, with prepared
        finals, the speech probabilities of the chunks before them."""
        if self._speech is None:
            return self._audio.end
        return min(self._audio.end, self._speech.known_end + self._speech.chunk - 1)

    def _prepare_due(self):
        """What the decode point reached now should be, with prepared finals: (silence, end) of a final to
        prepare in its place, when the point lies in a silence of the open segment that has lasted pad_after
        (the endpointer's end would be `end`); WAIT while the VAD has not yet told whether it does; None:
        an ordinary partial. Silences that ended sooner are passed over."""
        follower = self._speech
        if follower is None or self._prepared is not None:
            return None
        if not self.config.prepare_on_silence and self._next_partial > self._reach():
            return None
        for silence in follower.silences:
            start, resumed = silence
            if start <= self._silence_seen or start <= self._segment_start:
                continue
            if self._next_partial < start:
                return None
            end = start + follower.pad_after
            ready = follower.chunk_end(end)
            if resumed is not None and resumed < ready:
                self._silence_seen = start  # speech resumed within pad_after: not an end
                continue
            if follower.known_end < ready or self._audio.end < end:
                return WAIT
            return silence, end
        return None

    def _due(self) -> tuple | None:
        """The decode point reached, if any: ("prepare", silence, end) or ("partial", sample)."""
        if not self.in_segment:
            return None
        prepare = self._prepare_due()
        if prepare is WAIT:
            return None
        if prepare is not None:
            return ("prepare", *prepare)
        if self._next_partial <= self._reach():
            return ("partial", self._next_partial)
        return None

    @property
    def _interval(self) -> int:
        return int(round(self.config.partial_interval_s * SAMPLE_RATE))

    # -- driving calls ---------------------------------------------------------------------------------------
    def start_segment(self, sample: int) -> list[CaptionEvent]:
        """Speech starts at stream sample `sample` (may lie up to ``history_s`` in the past)."""
        events = self.end_segment(sample, forced=False) if self.in_segment else []
        self._segment_index += 1
        self.stats.segments += 1
        self._open(max(int(sample), self._audio.base))
        return events

    def _open(self, start: int) -> None:
        """A segment (or the rest of a split one) begins at stream sample `start`."""
        if self._prepared is not None:
            self._prepared = None
            self.stats.prepared_unused += 1
        if self._speech is not None:
            self._speech.drop_before(start)
        self._segment_start = start
        self._committed, self._hypotheses, self._hypothesis_probs = [], [], []
        self._hypothesis_retried = []
        self._decode_start, self._frozen, self._frozen_words = start, 0, []
        self._start_partial_grid()
        self._partials_shown = 0
        pause = None if self._last_speech_end is None else start - self._last_speech_end
        if pause is not None and pause > self.config.context_reset_s * SAMPLE_RATE:
            self._reset_context()
        self._choose_audio_context()

    def _reset_context(self) -> None:
        self._previous, self._last_words, self._last_speech_end = [], [], None
        self.stats.context_resets += 1

    def _choose_audio_context(self) -> None:
        """Audio context: the whole words of the last final that start within context_audio_s before the
        segment (and are still held), decoded again with their tokens forced, so the segment's first words are
        heard after the speech that led to them, as in long-form decoding."""
        self._context_start, self._context_tokens = self._segment_start, []
        if not self.config.audio_context or not self._last_words:
            return
        earliest = max(self._segment_start - int(self.config.context_audio_s * SAMPLE_RATE), self._audio.base)
        chosen = []
        for start, end, tokens in reversed(self._last_words):
            if start < earliest or end > self._segment_start:
                break
            chosen.insert(0, (start, tokens))
        if chosen:
            self._context_start = chosen[0][0]
            self._context_tokens = [t for _, tokens in chosen for t in tokens]

    def _start_partial_grid(self) -> None:
        """Partial decodes happen at fixed points, segment start + k x partial_interval_s (the first at or
        after min_partial_audio_s), whatever the chunking and timing of the audio, so a stream gives the same
        captions live as read from a file whenever the machine keeps up."""
        first = max(1, -(-int(round(self.config.min_partial_audio_s * SAMPLE_RATE)) // self._interval))
        self._next_partial = self._segment_start + first * self._interval

    def _keep_before(self) -> int:
        """First stream sample to keep between segments: history_s, and the audio a next segment's context
        may need (the last final's words within context_audio_s of where a segment may start)."""
        keep = self._audio.end - int(self.config.history_s * SAMPLE_RATE)
        if self.config.audio_context and self._last_words:
            reach = int((self.config.context_audio_s + self.config.context_reset_s) * SAMPLE_RATE)
            keep = min(keep, max(self._last_words[0][0], self._audio.end - reach))
        return keep

    def accept_audio(self, samples: np.ndarray, start_sample: int, decode: bool = True) -> list[CaptionEvent]:
        """Audio from stream sample `start_sample` on. With `decode`, runs a partial decode when one is due;
        without, only stores the audio (the caller then calls :meth:`partial`)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._audio.append(samples, int(start_sample))
        events: list[CaptionEvent] = []
        if not self.in_segment:
            self._audio.drop_before(self._keep_before())
            return events
        if self._audio.end - self._segment_start > self.config.max_segment_s * SAMPLE_RATE:
            events += self._split_long_segment()
        if decode:
            while (due := self._due()) is not None:  # every decode point reached, in order
                events += self._prepare(*due[1:]) if due[0] == "prepare" else self._partial_point(due[1])
        return events

    def partial(self, decode: bool = True) -> list[CaptionEvent]:
        """Live use: if a decode point has been reached, decode at the latest one reached (earlier ones not
        decoded are counted as skipped), or prepare the final a silence calls for (see the module docstring).
        With ``decode=False`` (the caller is behind) it is skipped too."""
        due = self._due()
        if due is None:
            return []
        reach = self._reach()
        reached = self._next_partial <= reach  # not so for a final prepared on silence before the next point
        if reached:
            latest = self._next_partial + (reach - self._next_partial) // self._interval * self._interval
            self.stats.skipped_partials += (latest - self._next_partial) // self._interval
            self._next_partial = latest
        if not decode:
            self.stats.skipped_partials += 1
            if reached:
                self._next_partial += self._interval
            if due[0] == "prepare":
                self._silence_seen = due[1][0]
            return []
        prepare = self._prepare_due()
        if prepare is WAIT:
            return []
        if prepare is not None:
            return self._prepare(*prepare)
        return self._partial_point(self._next_partial)

    def end_segment(self, sample: int, forced: bool = False) -> list[CaptionEvent]:
        """Speech ended at stream sample `sample`: decode the segment once more and emit its final caption."""
        if not self.in_segment:
            return []
        end = min(int(sample), self._audio.end)
        events = self._final(end, forced)
        self._segment_start = None
        self._audio.drop_before(self._keep_before())
        return events

    def finish(self) -> list[CaptionEvent]:
        """End of the stream: close an open segment."""
        return self.end_segment(self._audio.end, forced=True) if self.in_segment else []

    # -- decoding --------------------------------------------------------------------------------------------
    def _language_for(self, end: int, final: bool) -> tuple[str | None, str | None]:
        """(language, usual language) for a decode of the open segment up to `end` (see the module docstring)."""
        if not self._detects:
            return None, None
        if self.stats.language_locked is not None:
            return self.stats.language_locked, None
        if self._stream_language is None:
            return AUTO, None
        if final and end - self._segment_start >= self.config.min_detect_audio_s * SAMPLE_RATE:
            return AUTO, self._stream_language
        return self._stream_language, None

    @property
    def _commit_boundary(self) -> str:
        boundary = self.config.commit_boundary
        if boundary == "auto":
            return "all" if getattr(self.recognizer, "multilingual", False) else "newest"
        return boundary

    @property
    def _wants_token_probs(self) -> bool:
        return self._commit_boundary == "newest" and self.config.min_word_probability > 0

    def _decode(self, end: int, word_timestamps: bool, fallback: bool, final: bool = False,
                language: str | None = None, audio_context: bool = True,
                token_probabilities: bool | None = None) -> Transcript:
        """Decode the open segment up to stream sample `end`, with its context (the audio context only with
        `audio_context`); the result holds the segment's own tokens, text and words only (word times from the
        segment start)."""
        if audio_context:
            self._retried = False
        if self._frozen:
            return self._decode_after_frozen(end, word_timestamps, fallback, final, token_probabilities)
        usual = None
        if language is None:
            language, usual = self._language_for(end, final)
        context_tokens, start = self._context_tokens, self._context_start
        if end - start > FULL_WINDOW_FRAMES * HOP or language == AUTO or not audio_context:
            # Context and segment would not fit Whisper's 30 s; or the language is being detected, which must
            # hear this segment only (the previous speech is in the stream's language, the one in question).
            context_tokens, start = [], self._segment_start
        audio = self._audio.slice(start, end)
        previous = []
        if self.config.text_context and language != AUTO:
            # The context words end the previous text: not given twice.
            previous = self._previous[:len(self._previous) - len(context_tokens)][-self.config.max_previous_tokens:]
        extra = {} if language is None else {"language": language, "usual_language": usual}
        if (not final if token_probabilities is None else token_probabilities) and self._wants_token_probs:
            extra["token_probabilities"] = True
        result = self.recognizer.transcribe(audio, prefix=context_tokens + self._committed, previous=previous,
                                            word_timestamps=word_timestamps, fallback=fallback, **extra)
        if result.prefix_dropped:
            # Another language than the stream's: the committed words (and any context) were in the wrong
            # language. The segment is decoded from scratch in the detected one.
            self.stats.language_redecodes += 1
            self._committed, self._hypotheses, self._hypothesis_probs = [], [], []
            self._hypothesis_retried = []
            if context_tokens:
                self._context_tokens, self._context_start = [], self._segment_start
                detected = self._decode(end, word_timestamps, fallback, language=result.language,
                                        token_probabilities=token_probabilities)
                detected.language_probability = result.language_probability
                return detected
            return result
        heard_nothing = context_tokens and len(result.tokens) <= len(context_tokens) + len(self._committed)
        # A partial retries once the segment holds enough audio to hear words in.
        retry_s = self.config.context_retry_s
        if self._wants_token_probs:
            retry_s = min(retry_s, self.config.sure_retry_s)
        partial_may_retry = not self._committed and end - self._segment_start >= retry_s * SAMPLE_RATE
        if heard_nothing and (fallback or partial_may_retry):
            # Nothing heard after the context: Whisper may end the text at a change of voice or level (a
            # quiet speaker after a loud one). The segment is speech (the VAD said so): decode it alone. A
            # final drops the context for good; a partial keeps it for the next decodes (their committed
            # words, forced after it, carry them past the change).
            self.stats.context_retries += 1
            if fallback:
                self._context_tokens, self._context_start = [], self._segment_start
            retried = self._decode(end, word_timestamps, fallback, final, language if usual is None else None,
                                   audio_context=False, token_probabilities=token_probabilities)
            self._retried = (not fallback
                             and end - self._segment_start < self.config.context_retry_s * SAMPLE_RATE)
            return retried
        if context_tokens:
            n_context = len(self.tokenizer.split_words(context_tokens))
            result.tokens = result.tokens[len(context_tokens):]
            result.token_probs = result.token_probs[len(context_tokens):]
            result.text = self.tokenizer.decode(result.tokens)
            shift = (self._segment_start - start) / SAMPLE_RATE
            result.words = [Word(w.text, max(w.start - shift, 0.0), max(w.end - shift, 0.0), w.probability)
                            for w in result.words[n_context:]]
        return result

    def _decode_final(self, end: int, fallback: bool = True, token_probabilities: bool | None = None) -> Transcript:
        """A final's decode up to stream sample `end` (word times; the 30 s window when `fallback` and the
        result looks hallucinated), its fallbacks counted in the stats."""
        fallbacks = self.recognizer.fallbacks
        result = self._decode(end, word_timestamps=True, fallback=fallback, final=True,
                              token_probabilities=token_probabilities)
        self.stats.fallbacks += self.recognizer.fallbacks - fallbacks
        return result

    def _decode_after_frozen(self, end: int, word_timestamps: bool, fallback: bool, final: bool,
                             token_probabilities: bool | None) -> Transcript:
        """As _decode, with frozen committed words: the audio from _decode_start, the committed tokens after
        the frozen ones forced, the frozen ones ending the text prompt; the result is the whole segment's
        (frozen tokens and words first; the frozen tokens' probabilities NaN: they were not decoded)."""
        frozen = self._committed[:self._frozen]
        # The frozen words are the segment's own text: the prompt even without text context across segments.
        limit = self.config.max_previous_tokens
        previous = ((self._previous if self.config.text_context else []) + frozen)[-limit:] if limit else []
        extra = {}
        if (not final if token_probabilities is None else token_probabilities) and self._wants_token_probs:
            extra["token_probabilities"] = True
        result = self.recognizer.transcribe(self._audio.slice(self._decode_start, end),
                                            prefix=self._committed[self._frozen:], previous=previous,
                                            word_timestamps=word_timestamps, fallback=fallback, **extra)
        result.tokens = frozen + result.tokens
        if result.token_probs:
            result.token_probs = [float("nan")] * len(frozen) + result.token_probs
        result.text = self.tokenizer.decode(result.tokens)
        if word_timestamps:
            shift = (self._decode_start - self._segment_start) / SAMPLE_RATE
            result.words = self._frozen_words + [Word(w.text, w.start + shift, w.end + shift, w.probability)
                                                 for w in result.words]
        return result

    def _wants_word_times_to_freeze(self, end: int) -> bool:
        """A decode up to `end` may commit enough words to freeze some: its word times are needed."""
        span = self.config.freeze_committed_s
        return bool(span) and not self._detects and end - self._decode_start > span * SAMPLE_RATE

    def _freeze(self, hypothesis: list[int], words: list[Word]) -> None:
        """Once the committed words after the frozen ones span more than freeze_committed_s, freeze those
        before the last context_audio_s of them (`words`: the hypothesis's, times from the segment start)."""
        pieces = self.tokenizer.split_words(hypothesis)
        if len(pieces) != len(words):
            return
        committed = [i for i, piece in enumerate(pieces)
                     if self._frozen <= piece.first and piece.last <= len(self._committed)]
        if not committed:
            return
        start_s = (self._decode_start - self._segment_start) / SAMPLE_RATE
        last_end = words[committed[-1]].end
        if last_end - start_s <= self.config.freeze_committed_s:
            return
        keep_from = last_end - self.config.context_audio_s
        first_kept = next((i for i in committed if words[i].start >= keep_from and pieces[i].first > self._frozen),
                          None)
        if first_kept is None:
            return
        self._frozen = pieces[first_kept].first
        self._frozen_words = list(words[:first_kept])
        self._decode_start = self._segment_start + int(round(words[first_kept].start * SAMPLE_RATE))
        self.stats.freezes += 1

    def _seconds(self, sample: int) -> float:
        return sample / SAMPLE_RATE

    def _latency(self, sample: int, emitted_at: float) -> float | None:
        if self.wall_time_of is None:
            return None
        wall = self.wall_time_of(sample)
        return None if wall is None else emitted_at - wall

    def _place(self, words: list[Word]) -> tuple[Word, ...]:
        offset = self._segment_start / SAMPLE_RATE
        return tuple(Word(w.text, w.start + offset, w.end + offset, w.probability) for w in words)

    def _partial_point(self, end: int) -> list[CaptionEvent]:
        """A partial decode point: decoded, unless it lies in the silence a final was prepared in (nothing new
        to hear, and a commit would change the final's prefix)."""
        prepared = self._prepared
        if prepared is not None:
            resumed = prepared.silence[1]
            if resumed is None or resumed + self._speech.chunk > end:
                self.stats.silent_partials += 1
                self._next_partial = end + self._interval
                return []
            self._prepared = None  # speech resumed: not the end
            self.stats.prepared_unused += 1
        return self._partial(end)

    def _prepare(self, silence: list, end: int) -> list[CaptionEvent]:
        """Once the VAD has told that the silence lasts pad_after (with prepare_on_silence; else at a decode
        point past `end`): decode the open segment's final as it will be if the endpointer ends the segment at
        `end`, keep it, and take it as a partial hypothesis too (it is a decode of the segment so far: nothing
        is wasted if speech resumes). A decode point reached is taken by it; one not yet reached stays."""
        self._silence_seen = silence[0]
        if self._next_partial <= self._reach():
            self._next_partial += self._interval
        if end - self._segment_start < HOP:
            return []
        # A final may change the segment's state (context dropped, language redecoded): not before it is one.
        saved = (self._committed, self._hypotheses, self._hypothesis_probs, self._hypothesis_retried,
                 self._context_tokens, self._context_start, self.stats.context_retries,
                 self.stats.language_redecodes)
        # Without prepare_fallback, a decode that looks hallucinated is discarded, as a partial's is, and the
        # final decoded with its fallback when the end comes.
        result = self._decode_final(end, fallback=self.config.prepare_fallback,
                                    token_probabilities=self._wants_token_probs)
        (self._committed, self._hypotheses, self._hypothesis_probs, self._hypothesis_retried,
         self._context_tokens, self._context_start, self.stats.context_retries,
         self.stats.language_redecodes) = saved
        self.stats.partial_decodes += 1
        self.stats.partial_decode_s.append(result.encode_s + result.decode_s + result.align_s)
        # A result of the 30 s window is the final the end would emit, whatever its checks say (_final).
        if (not result.problems or result.fell_back) and len(result.tokens) > len(self._committed):
            self._prepared = PreparedFinal(silence, end, (self._context_start, list(self._context_tokens)), result)
        if result.fell_back:
            # The partials see what they saw before: a decode that looked hallucinated, discarded.
            self.stats.discarded_partials += 1
            return []
        return self._hypothesis(result, end)

    def _take_prepared(self, end: int, forced: bool) -> PreparedFinal | None:
        """The prepared final, if it is this segment's final: the end it was prepared for, nothing committed
        or changed in the context since."""
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            return None
        if (not forced and prepared.end == end
                and prepared.result.tokens[:len(self._committed)] == self._committed
                and prepared.context == (self._context_start, self._context_tokens)):
            self.stats.prepared_finals += 1
            return prepared
        self.stats.prepared_unused += 1
        return None

    def _partial(self, end: int) -> list[CaptionEvent]:
        """Decode the segment up to stream sample `end` (a decode point) and emit a partial caption."""
        self._next_partial = end + self._interval
        word_times = self.config.partial_word_times or self._wants_word_times_to_freeze(end)
        result = self._decode(end, word_timestamps=word_times, fallback=False)
        self.stats.partial_decodes += 1
        self.stats.partial_decode_s.append(result.encode_s + result.decode_s + result.align_s)
        return self._hypothesis(result, end)

    def _hypothesis(self, result: Transcript, end: int) -> list[CaptionEvent]:
        """A decode of the segment up to stream sample `end`: LocalAgreement, and the partial caption."""
        if result.problems:
            self.stats.discarded_partials += 1
            return []
        hypothesis = result.tokens
        self._hypotheses = (self._hypotheses + [hypothesis])[-self.config.agreement:]
        self._hypothesis_probs = (self._hypothesis_probs + [result.token_probs])[-self.config.agreement:]
        self._hypothesis_retried = (self._hypothesis_retried + [self._retried])[-self.config.agreement:]
        if (len(self._hypotheses) == self.config.agreement
                and end - self._segment_start >= self.config.min_commit_audio_s * SAMPLE_RATE
                and not (self._detects and self._stream_language is None)):
            # Sooner retries: only words every agreeing hypothesis is sure of (StreamingConfig.sure_retry_s).
            sure_only = any(self._hypothesis_retried)  # only where token probabilities are computed
            self._committed = hypothesis[:agreed_prefix(
                self._hypotheses, len(self._committed), self.tokenizer.starts_word, self._commit_boundary,
                self._hypothesis_probs, self.config.min_word_probability, every_token=sure_only)]
            if result.words and self._wants_word_times_to_freeze(end):
                self._freeze(hypothesis, result.words)
        committed_text = self.tokenizer.decode(self._committed)
        unstable_text = self.tokenizer.decode(hypothesis[len(self._committed):])
        if not (committed_text + unstable_text).strip():
            return []
        emitted_at = self.clock()
        words = self._place(result.words)
        n_committed = sum(1 for w in self.tokenizer.split_words(hypothesis) if w.last <= len(self._committed))
        self._partials_shown += 1
        text = (committed_text + unstable_text).strip()
        return [CaptionEvent(
            kind=PARTIAL, segment=self._segment_index, text=text, committed=committed_text.strip(),
            unstable=unstable_text.strip() if committed_text.strip() else unstable_text.strip(),
            start=self._seconds(self._segment_start), end=self._seconds(end), words=words,
            committed_words=n_committed, emitted_at=emitted_at, latency=self._latency(end, emitted_at),
            **self._language_fields(result),
        )]

    def _language_fields(self, result: Transcript) -> dict:
        if not self._detects:
            return {}
        return {"language": result.language, "language_probability": result.language_probability}

    def _settle_language(self, result: Transcript) -> None:
        """A final was decoded: its language becomes the stream's; N sure ones in a row lock it."""
        if not self._detects or not result.tokens or result.language is None:
            return
        self.stats.languages[result.language] = self.stats.languages.get(result.language, 0) + 1
        if self.stats.language_locked is not None:
            return
        sure = (result.language_probability is not None
                and result.language_probability >= self.recognizer.config.min_language_probability)
        if self._stream_language is not None and result.language != self._stream_language:
            self.stats.language_changes += 1
        if sure:
            self._agreeing = self._agreeing + 1 if result.language == self._stream_language else 1
        else:
            self._agreeing = 0  # "in a row": an unsure final breaks the run
        self._stream_language = result.language
        if self.config.language_lock and self._agreeing >= self.config.language_lock:
            self.stats.language_locked = result.language

    def _final_event(self, result: Transcript, end: int, forced: bool, words: tuple[Word, ...]) -> CaptionEvent:
        text = result.text.strip()
        emitted_at = self.clock()
        speech_end = words[-1].end if words else self._seconds(end)
        speech_end_sample = int(round(speech_end * SAMPLE_RATE))
        return CaptionEvent(
            kind=FINAL, segment=self._segment_index, text=text, committed=text, unstable="",
            start=words[0].start if words else self._seconds(self._segment_start), end=speech_end, words=words,
            committed_words=len(words), emitted_at=emitted_at,
            latency=self._latency(speech_end_sample, emitted_at), forced=forced, **self._language_fields(result),
            # a copy: a view would pin the whole history buffer for as long as the event lives
            audio=self._audio.slice(self._segment_start, end).copy() if self.config.keep_final_audio else None,
        )

    def _remember(self, result: Transcript, words: tuple[Word, ...]) -> None:
        """Keep a final as context for the next segment, or reset the context after a hallucination (a final
        that fell back to the 30 s window or still looks wrong): it would be carried into what follows."""
        if result.fell_back or result.problems:
            self._reset_context()
            return
        if not result.tokens:
            return
        self._previous = (self._previous + result.tokens)[-max(self.config.max_previous_tokens, 1):]
        pieces = self.tokenizer.split_words(result.tokens)
        if len(pieces) == len(words):
            self._last_words = [(int(round(w.start * SAMPLE_RATE)), int(round(w.end * SAMPLE_RATE)),
                                 result.tokens[p.first:p.last]) for p, w in zip(pieces, words)]
        else:
            self._last_words = []
        self._last_speech_end = int(round(words[-1].end * SAMPLE_RATE)) if words else None

    def _final(self, end: int, forced: bool) -> list[CaptionEvent]:
        prepared = self._take_prepared(end, forced)
        if end - self._segment_start < HOP:
            return []
        if prepared is not None:
            # Decoded while the endpointer waited: the same audio, prefix and context as a decode now.
            result = prepared.result
        else:
            result = self._decode_final(end)
        self.stats.final_decode_s.append(result.encode_s + result.decode_s + result.align_s)
        if not result.text.strip() and not self._partials_shown:
            return []
        self.stats.finals += 1
        words = self._place(result.words)
        self._remember(result, words)
        self._settle_language(result)
        return [self._final_event(result, end, forced, words)]

    def _split_long_segment(self) -> list[CaptionEvent]:
        """The segment outgrew max_segment_s: emit its committed words as a final and go on after them."""
        self.stats.forced_splits += 1
        end = min(self._audio.end, self._segment_start + FULL_WINDOW_FRAMES * HOP)
        result = self._decode_final(end)
        words = result.words
        committed_words = [w for w in self.tokenizer.split_words(result.tokens) if w.last <= len(self._committed)]
        if committed_words and len(committed_words) < len(words):
            keep = len(committed_words)
            cut = self._segment_start + int(round(words[keep - 1].end * SAMPLE_RATE))
            result.tokens = result.tokens[:committed_words[-1].last]
            result.text = self.tokenizer.decode(result.tokens)
            result.words = words[:keep]
        else:
            cut = end
        self.stats.finals += 1
        placed = self._place(result.words)
        event = self._final_event(result, cut, True, placed)
        self._remember(result, placed)
        self._settle_language(result)
        # The segment goes on from the cut, as a new segment.
        self._segment_index += 1
        self.stats.segments += 1
        self._open(cut)
        return [event]
