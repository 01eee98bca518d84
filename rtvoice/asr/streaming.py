"""Streaming captions from VAD-gated speech segments: partial captions while the speaker talks, a final
caption with word timestamps at the end of each segment.

Policy (LocalAgreement-n, n = 2 by default, after Macháček et al. 2023, "Turning Whisper into Real-Time
Transcription System"), one part per rule, :class:`StreamingRecognizer` their coordinator:

- Decode points (:mod:`rtvoice.asr.scheduler`): while a segment is open, the growing segment is decoded
  again every ``partial_interval_s`` of audio, at fixed points (segment start + k x interval), so captions
  do not depend on how the audio was chunked. Committed tokens are forced as the decoder's prefix.
- The commit rule (:mod:`rtvoice.asr.commit`): tokens become *committed* once the last ``agreement``
  hypotheses agree on them, cut back to a word boundary; a committed token never changes, the rest of the
  newest hypothesis is shown as *unstable* text.
- Frozen committed words (:mod:`rtvoice.asr.frozen`, ``freeze_committed_s``): a long segment's decodes
  start late, after committed words given as the prompt, so a decode stays bounded.
- A partial hypothesis that looks hallucinated (see :class:`~rtvoice.asr.whisper.HallucinationChecks`) is
  discarded (counted) rather than shown; the final decode falls back to Whisper's full 30 s window instead.
- At the end of a segment the whole segment is decoded once more (committed prefix forced) and a final
  caption with word times is emitted.
- Context across segments (:mod:`rtvoice.asr.context`, ``StreamingConfig.context``): the text and/or audio
  of the speech before, dropped after a hallucination or a long pause; a decode that hears nothing after
  its audio context is decoded again without it (a final at once, a partial from ``context_retry_s``, or
  ``sure_retry_s`` committing only sure words).
- Prepared finals (:mod:`rtvoice.asr.prepared`, ``StreamingConfig.prepare_finals``, with the VAD's
  per-chunk speech probabilities passed to :meth:`accept_speech_probabilities` after :meth:`follow_speech`):
  the final is decoded while the endpointer waits out the trailing silence, and emitted when the end comes.
- Overload: the caller passes ``decode=False`` to :meth:`partial` (or :meth:`accept_audio`) when it is
  behind; partial decodes are skipped (counted in :attr:`StreamingStats.skipped_partials`), never finals.
- Language detection (:mod:`rtvoice.asr.language`, ``WhisperConfig(language="auto")``): the stream's
  language is that of its last final; a final surely detected in another language is decoded again from
  scratch in it (the committed words, in the wrong language, are dropped; counted in
  ``language_redecodes``).
- A segment longer than ``max_segment_s`` is split: its committed words become a final, the rest goes on.

The class is driven by calls (no thread of its own): :meth:`start_segment`, :meth:`accept_audio`,
:meth:`end_segment`, :meth:`finish`. Each returns the caption events it produced.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from rtvoice.asr.commit import LocalAgreement, agreed_prefix
from rtvoice.asr.config import COMMIT_BOUNDARIES, CONTEXTS, StreamingConfig, StreamingStats
from rtvoice.asr.context import SegmentContext
from rtvoice.asr.events import FINAL, PARTIAL, CaptionEvent, CaptionStamper
from rtvoice.asr.frozen import FrozenWords
from rtvoice.asr.history import AudioHistory
from rtvoice.asr.language import StreamLanguage
from rtvoice.asr.prepared import WAIT, PreparedFinal, PreparedFinals
from rtvoice.asr.scheduler import ComputeAwareGate, DecodePoints
from rtvoice.asr.whisper import AUTO, FULL_WINDOW_FRAMES, HOP, SAMPLE_RATE, Transcript, WhisperRecognizer, Word

# Re-exported: the policy's public names stay importable from here.
__all__ = ["COMMIT_BOUNDARIES", "CONTEXTS", "FINAL", "PARTIAL", "CaptionEvent", "StreamingConfig",
           "StreamingRecognizer", "StreamingStats", "agreed_prefix"]


class StreamingRecognizer:
    """Partial and final captions for a stream of 16 kHz audio split into speech segments: the coordinator of
    the policy's parts (the commit rule, :class:`~rtvoice.asr.commit.LocalAgreement`; the context across
    segments, :class:`~rtvoice.asr.context.SegmentContext`; frozen committed words,
    :class:`~rtvoice.asr.frozen.FrozenWords`; prepared finals, :class:`~rtvoice.asr.prepared.PreparedFinals`;
    the language, :class:`~rtvoice.asr.language.StreamLanguage`; decode points,
    :class:`~rtvoice.asr.scheduler.DecodePoints` and, live, :class:`~rtvoice.asr.scheduler.ComputeAwareGate`),
    which decodes the open segment and emits the captions (:class:`~rtvoice.asr.events.CaptionStamper`).

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
        self._captions = CaptionStamper(clock, wall_time_of)
        self.tokenizer = recognizer.tokenizer
        self.stats = StreamingStats()
        self._audio = AudioHistory()
        self._segment_index = -1
        self._segment_start: int | None = None
        self._agreement = LocalAgreement(config.agreement, self.tokenizer.starts_word, self._commit_boundary,
                                         config.min_word_probability)
        # The last decode was retried without its audio context before the segment held context_retry_s
        # (StreamingConfig.sure_retry_s).
        self._retried = False
        self._points = DecodePoints(config.partial_interval_s, config.min_partial_audio_s)
        self._gate = ComputeAwareGate() if config.schedule == "compute" else None
        self._decoded_to = 0  # stream sample the open segment's last decode ran to
        self._partials_shown = 0
        self._context = SegmentContext(config, self.tokenizer)
        self._frozen = FrozenWords(config.freeze_committed_s, config.context_audio_s, self.tokenizer)
        detects = bool(getattr(recognizer, "detects_language", False))
        self._language = StreamLanguage(
            detects, config.min_detect_audio_s, config.language_lock,
            recognizer.config.min_language_probability if detects else 1.0, self.stats)
        self._prepared = PreparedFinals(config.prepare_on_silence, self.stats)

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
            self._prepared.follow(threshold, neg_threshold, pad_after, chunk)

    def accept_speech_probabilities(self, starts, probabilities) -> None:
        """The VAD's speech probability (0..1) of each chunk, by the stream sample it starts at; in stream
        order, no later than the audio they cover is decoded."""
        self._prepared.accept(starts, probabilities)

    def _reach(self) -> int:
        """Decode points up to this stream sample may be decoded (PreparedFinals.reach)."""
        return self._prepared.reach(self._audio.end)

    def _prepare_due(self):
        """(silence, end) of a final to prepare at the decode point reached, WAIT, or None
        (PreparedFinals.due)."""
        return self._prepared.due(self._points.next, self._reach(), self._segment_start, self._audio.end)

    def _due(self) -> tuple | None:
        """The decode point reached, if any: ("prepare", silence, end) or ("partial", sample)."""
        if not self.in_segment:
            return None
        prepare = self._prepare_due()
        if prepare is WAIT:
            return None
        if prepare is not None:
            return ("prepare", *prepare)
        if self._points.next <= self._reach():
            return ("partial", self._points.next)
        return None

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
        self._prepared.open(start)
        self._segment_start = start
        self._agreement.clear()
        self._frozen.reset(start)
        self._points.start(start)
        self._decoded_to = start
        self._partials_shown = 0
        if self._context.open(start, self._audio.base):
            self.stats.context_resets += 1

    def accept_audio(self, samples: np.ndarray, start_sample: int, decode: bool = True) -> list[CaptionEvent]:
        """Audio from stream sample `start_sample` on. With `decode`, runs a partial decode when one is due;
        without, only stores the audio (the caller then calls :meth:`partial`)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._audio.append(samples, int(start_sample))
        events: list[CaptionEvent] = []
        if not self.in_segment:
            self._audio.drop_before(self._context.keep_from(self._audio.end))
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
        reached = self._points.next <= self._reach()  # not so for a final prepared on silence before the next point
        if reached:
            self.stats.skipped_partials += self._points.catch_up(self._reach())
        if not decode:
            self.stats.skipped_partials += 1
            if reached:
                self._points.step()
            if due[0] == "prepare":
                self._prepared.silence_seen = due[1][0]
            return []
        prepare = self._prepare_due()
        if prepare is WAIT:
            return []
        if prepare is not None:
            return self._prepare(*prepare)
        if self._yields():
            self.stats.partials_yielded += 1
            self._points.step()
            return []
        return self._partial_point(self._points.next)

    def _yields(self) -> bool:
        """With the compute schedule: the partial due now is not worth its compute (ComputeAwareGate)."""
        if self._gate is None:
            return False
        silence = self._prepared.open_silence(self._segment_start)
        return silence is not None and self._gate.yields(self._audio.end, self._decoded_to, *silence)

    def end_segment(self, sample: int, forced: bool = False) -> list[CaptionEvent]:
        """Speech ended at stream sample `sample`: decode the segment once more and emit its final caption."""
        if not self.in_segment:
            return []
        end = min(int(sample), self._audio.end)
        events = self._final(end, forced)
        self._segment_start = None
        self._audio.drop_before(self._context.keep_from(self._audio.end))
        return events

    def finish(self) -> list[CaptionEvent]:
        """End of the stream: close an open segment."""
        return self.end_segment(self._audio.end, forced=True) if self.in_segment else []

    # -- decoding --------------------------------------------------------------------------------------------
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
        if self._frozen.tokens:
            return self._decode_after_frozen(end, word_timestamps, fallback, final, token_probabilities)
        usual = None
        if language is None:
            language, usual = self._language.for_decode(end - self._segment_start, final)
        context_tokens, start = self._context.tokens, self._context.start
        if end - start > FULL_WINDOW_FRAMES * HOP or language == AUTO or not audio_context:
            # Context and segment would not fit Whisper's 30 s; or the language is being detected, which must
            # hear this segment only (the previous speech is in the stream's language, the one in question).
            context_tokens, start = [], self._segment_start
        audio = self._audio.slice(start, end)
        previous = self._context.prompt(context_tokens) if language != AUTO else []
        extra = {} if language is None else {"language": language, "usual_language": usual}
        if (not final if token_probabilities is None else token_probabilities) and self._wants_token_probs:
            extra["token_probabilities"] = True
        committed = self._agreement.committed
        result = self.recognizer.transcribe(audio, prefix=context_tokens + committed, previous=previous,
                                            word_timestamps=word_timestamps, fallback=fallback, **extra)
        if result.prefix_dropped:
            # Another language than the stream's: the committed words (and any context) were in the wrong
            # language. The segment is decoded from scratch in the detected one.
            self.stats.language_redecodes += 1
            self._agreement.clear()
            if context_tokens:
                self._context.drop_audio(self._segment_start)
                detected = self._decode(end, word_timestamps, fallback, language=result.language,
                                        token_probabilities=token_probabilities)
                detected.language_probability = result.language_probability
                return detected
            return result
        heard_nothing = context_tokens and len(result.tokens) <= len(context_tokens) + len(committed)
        # A partial retries once the segment holds enough audio to hear words in.
        retry_s = self._context.retry_s(self._wants_token_probs)
        partial_may_retry = not committed and end - self._segment_start >= retry_s * SAMPLE_RATE
        if heard_nothing and (fallback or partial_may_retry):
            # Nothing heard after the context: Whisper may end the text at a change of voice or level (a
            # quiet speaker after a loud one). The segment is speech (the VAD said so): decode it alone. A
            # final drops the context for good; a partial keeps it for the next decodes (their committed
            # words, forced after it, carry them past the change).
            self.stats.context_retries += 1
            if fallback:
                self._context.drop_audio(self._segment_start)
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
        """As _decode, with frozen committed words: the audio from their decode start, the committed tokens
        after the frozen ones forced, the frozen ones ending the text prompt; the result is the whole
        segment's (frozen tokens and words first; the frozen tokens' probabilities NaN: not decoded)."""
        frozen = self._frozen
        committed = self._agreement.committed
        frozen_tokens = committed[:frozen.tokens]
        previous = self._context.prompt_after(frozen_tokens)
        extra = {}
        if (not final if token_probabilities is None else token_probabilities) and self._wants_token_probs:
            extra["token_probabilities"] = True
        result = self.recognizer.transcribe(self._audio.slice(frozen.decode_start, end),
                                            prefix=committed[frozen.tokens:], previous=previous,
                                            word_timestamps=word_timestamps, fallback=fallback, **extra)
        result.tokens = frozen_tokens + result.tokens
        if result.token_probs:
            result.token_probs = [float("nan")] * len(frozen_tokens) + result.token_probs
        result.text = self.tokenizer.decode(result.tokens)
        if word_timestamps:
            shift = (frozen.decode_start - self._segment_start) / SAMPLE_RATE
            result.words = frozen.words + [Word(w.text, w.start + shift, w.end + shift, w.probability)
                                           for w in result.words]
        return result

    def _wants_word_times_to_freeze(self, end: int) -> bool:
        return self._frozen.wants_word_times(end, self._language.detects)

    def _place(self, words: list[Word]) -> tuple[Word, ...]:
        return self._captions.place(words, self._segment_start)

    def _partial_point(self, end: int) -> list[CaptionEvent]:
        """A partial decode point: decoded, unless it lies in the silence a final was prepared in."""
        if self._prepared.silent_at(end):
            self._points.decoded(end)
            return []
        return self._partial(end)

    def _prepare(self, silence: list, end: int) -> list[CaptionEvent]:
        """Once the VAD has told that the silence lasts pad_after (with prepare_on_silence; else at a decode
        point past `end`): decode the open segment's final as it will be if the endpointer ends the segment at
        `end`, keep it, and take it as a partial hypothesis too (it is a decode of the segment so far: nothing
        is wasted if speech resumes). A decode point reached is taken by it; one not yet reached stays."""
        self._prepared.silence_seen = silence[0]
        if self._points.next <= self._reach():
            self._points.step()
        if end - self._segment_start < HOP:
            return []
        # A final may change the segment's state (context dropped, language redecoded): not before it is one.
        saved = (self._agreement.save(), self._context.tokens, self._context.start,
                 self.stats.context_retries, self.stats.language_redecodes)
        # Without prepare_fallback, a decode that looks hallucinated is discarded, as a partial's is, and the
        # final decoded with its fallback when the end comes.
        result = self._decode_final(end, fallback=self.config.prepare_fallback,
                                    token_probabilities=self._wants_token_probs)
        agreement, self._context.tokens, self._context.start, self.stats.context_retries, \
            self.stats.language_redecodes = saved
        self._agreement.restore(agreement)
        self._took(end, result)
        # A result of the 30 s window is the final the end would emit, whatever its checks say (_final).
        if (not result.problems or result.fell_back) and len(result.tokens) > len(self._agreement.committed):
            self._prepared.prepared = PreparedFinal(silence, end, self._context.snapshot(), result)
        if result.fell_back:
            # The partials see what they saw before: a decode that looked hallucinated, discarded.
            self.stats.discarded_partials += 1
            return []
        return self._hypothesis(result, end)

    def _partial(self, end: int) -> list[CaptionEvent]:
        """Decode the segment up to stream sample `end` (a decode point) and emit a partial caption."""
        self._points.decoded(end)
        word_times = self.config.partial_word_times or self._wants_word_times_to_freeze(end)
        result = self._decode(end, word_timestamps=word_times, fallback=False)
        self._took(end, result, partial=True)
        return self._hypothesis(result, end)

    def _took(self, end: int, result: Transcript, partial: bool = False) -> None:
        """A partial (or prepared final) decode ran to stream sample `end`: counted, a partial's compute timed
        for the compute schedule (a prepared final's, with word times and maybe the 30 s window, is not a
        partial's)."""
        seconds = result.encode_s + result.decode_s + result.align_s
        self.stats.partial_decodes += 1
        self.stats.partial_decode_s.append(seconds)
        self._decoded_to = end
        if partial and self._gate is not None:
            self._gate.took(seconds)

    def _hypothesis(self, result: Transcript, end: int) -> list[CaptionEvent]:
        """A decode of the segment up to stream sample `end`: LocalAgreement, and the partial caption."""
        if result.problems:
            self.stats.discarded_partials += 1
            return []
        hypothesis = result.tokens
        agreement = self._agreement
        agreement.add(hypothesis, result.token_probs, self._retried)
        if (agreement.full and end - self._segment_start >= self.config.min_commit_audio_s * SAMPLE_RATE
                and not self._language.unsettled):
            agreement.commit()
            if result.words and self._wants_word_times_to_freeze(end):
                if self._frozen.freeze(hypothesis, result.words, len(agreement.committed), self._segment_start):
                    self.stats.freezes += 1
        committed = agreement.committed
        committed_text = self.tokenizer.decode(committed)
        unstable_text = self.tokenizer.decode(hypothesis[len(committed):])
        if not (committed_text + unstable_text).strip():
            return []
        n_committed = sum(1 for w in self.tokenizer.split_words(hypothesis) if w.last <= len(committed))
        self._partials_shown += 1
        audio = (self._audio.slice(self._segment_start, end).copy()
                 if self.config.partial_audio and self.config.keep_final_audio else None)
        return [self._captions.partial(self._segment_index, self._segment_start, end, committed_text, unstable_text,
                                       self._place(result.words), n_committed, self._language.fields(result), audio)]

    def _final_event(self, result: Transcript, end: int, forced: bool, words: tuple[Word, ...]) -> CaptionEvent:
        # a copy of the audio: a view would pin the whole history buffer for as long as the event lives
        audio = self._audio.slice(self._segment_start, end).copy() if self.config.keep_final_audio else None
        return self._captions.final(self._segment_index, self._segment_start, end, result.text, words, forced,
                                    self._language.fields(result), audio)

    def _remember(self, result: Transcript, words: tuple[Word, ...]) -> None:
        """Keep a final as context for the next segment, or drop the context after a hallucination."""
        if self._context.remember(result, words):
            self.stats.context_resets += 1

    def _final(self, end: int, forced: bool) -> list[CaptionEvent]:
        prepared = self._prepared.take(end, forced, self._agreement.committed, self._context.unchanged_since)
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
        self._language.settle(result)
        return [self._final_event(result, end, forced, words)]

    def _split_long_segment(self) -> list[CaptionEvent]:
        """The segment outgrew max_segment_s: emit its committed words as a final and go on after them."""
        self.stats.forced_splits += 1
        end = min(self._audio.end, self._segment_start + FULL_WINDOW_FRAMES * HOP)
        result = self._decode_final(end)
        words = result.words
        committed = self._agreement.committed
        committed_words = [w for w in self.tokenizer.split_words(result.tokens) if w.last <= len(committed)]
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
        self._language.settle(result)
        # The segment goes on from the cut, as a new segment.
        self._segment_index += 1
        self.stats.segments += 1
        self._open(cut)
        return [event]
