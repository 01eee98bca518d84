"""What the streaming recognizer emits: a caption as it is shown (partial or final)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rtvoice.asr.transcript import Word
from rtvoice.asr.window import SAMPLE_RATE

PARTIAL = "partial"
FINAL = "final"


@dataclass(frozen=True)
class CaptionEvent:
    """A caption as it is shown.

    kind: "partial" (may still change, except its committed part) or "final".
    segment: index of the speech segment (0, 1, ...); a final closes its segment.
    text: what is shown: ``committed`` followed by ``unstable``.
    committed: text that will never change (for a final, all of it).
    unstable: text that may still change.
    start, end: stream seconds covered (segment start; for a final the end of its last word, for a partial
        the end of the audio decoded).
    words: words with stream times (s) and probabilities; the first ``committed_words`` are committed.
    emitted_at: wall-clock time (time.time()) at which the event was produced.
    latency: emitted_at minus the wall time at which the audio at ``end`` was captured (None when the
        source has no clock, e.g. a file read as fast as possible).
    forced: a final produced by a forced split (segment too long), not by an end of speech.
    language: with language detection, the language the caption was decoded in (else None: the configured one).
    language_probability: the detector's probability of ``language`` (None when it was not detected: the
        stream's language was used, or it is locked).
    audio: a final's segment audio (16 kHz float32) when ``StreamingConfig.keep_final_audio`` (for a stage
        that decodes it again, e.g. Whisper's translate task), a partial's (the segment so far) with
        ``partial_audio`` too; never serialised.
    """

    kind: str
    segment: int
    text: str
    committed: str
    unstable: str
    start: float
    end: float
    words: tuple[Word, ...] = ()
    committed_words: int = 0
    emitted_at: float = 0.0
    latency: float | None = None
    forced: bool = False
    language: str | None = None
    language_probability: float | None = None
    audio: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        return self.kind == FINAL

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "segment": self.segment,
            "text": self.text,
            "committed": self.committed,
            "unstable": self.unstable,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "words": [w.to_dict() for w in self.words],
            "committed_words": self.committed_words,
            "emitted_at": round(self.emitted_at, 4),
            "latency": None if self.latency is None else round(self.latency, 4),
            "forced": self.forced,
            **({} if self.language is None else {
                "language": self.language,
                "language_probability": (None if self.language_probability is None
                                         else round(self.language_probability, 4))}),
        }


class CaptionStamper:
    """Makes a stream's caption events: word times placed on the stream, ``emitted_at`` from `clock`, the
    latency from `wall_time_of` (stream sample → wall time it was captured; None: latencies are None)."""

    def __init__(self, clock: Callable[[], float], wall_time_of: Callable[[int], float | None] | None):
        self.clock = clock
        self.wall_time_of = wall_time_of

    def _latency(self, sample: int, emitted_at: float) -> float | None:
        if self.wall_time_of is None:
            return None
        wall = self.wall_time_of(sample)
        return None if wall is None else emitted_at - wall

    @staticmethod
    def place(words: list[Word], segment_start: int) -> tuple[Word, ...]:
        """Words timed from the start of a segment beginning at stream sample `segment_start`, on the stream."""
        offset = segment_start / SAMPLE_RATE
        return tuple(Word(w.text, w.start + offset, w.end + offset, w.probability) for w in words)

    def partial(self, segment: int, segment_start: int, end: int, committed_text: str, unstable_text: str,
                words: tuple[Word, ...], committed_words: int, language: dict,
                audio: np.ndarray | None = None) -> CaptionEvent:
        """A partial of segment `segment` decoded up to stream sample `end` (text as the tokenizer decodes it)."""
        emitted_at = self.clock()
        text = (committed_text + unstable_text).strip()
        return CaptionEvent(
            kind=PARTIAL, segment=segment, text=text, committed=committed_text.strip(),
            unstable=unstable_text.strip() if committed_text.strip() else unstable_text.strip(),
            start=segment_start / SAMPLE_RATE, end=end / SAMPLE_RATE, words=words,
            committed_words=committed_words, emitted_at=emitted_at, latency=self._latency(end, emitted_at),
            **language, audio=audio,
        )

    def final(self, segment: int, segment_start: int, end: int, text: str, words: tuple[Word, ...],
              forced: bool, language: dict, audio: np.ndarray | None) -> CaptionEvent:
        """The final of segment `segment`, which ended at stream sample `end` (`words` on the stream)."""
        text = text.strip()
        emitted_at = self.clock()
        speech_end = words[-1].end if words else end / SAMPLE_RATE
        speech_end_sample = int(round(speech_end * SAMPLE_RATE))
        return CaptionEvent(
            kind=FINAL, segment=segment, text=text, committed=text, unstable="",
            start=words[0].start if words else segment_start / SAMPLE_RATE, end=speech_end, words=words,
            committed_words=len(words), emitted_at=emitted_at,
            latency=self._latency(speech_end_sample, emitted_at), forced=forced, **language, audio=audio,
        )
