"""What the streaming recognizer emits: a caption as it is shown (partial or final)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtvoice.asr.transcript import Word

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
        that decodes it again, e.g. Whisper's translate task); never serialised.
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
