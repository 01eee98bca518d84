"""What a decode gives (:class:`Transcript`, its :class:`Word` s) and what a batched decode is asked
(:class:`DecodeRequest`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Word:
    """A recognised word. Times in seconds (stream time once the streaming recognizer has placed them)."""

    text: str  # with its leading space, as Whisper writes it
    start: float
    end: float
    probability: float

    def to_dict(self) -> dict:
        return {"text": self.text.strip(), "start": round(self.start, 3), "end": round(self.end, 3),
                "probability": round(self.probability, 4)}


@dataclass
class Transcript:
    """Result of one decode of one window of audio."""

    tokens: list[int]  # text tokens, forced prefix included
    text: str
    words: list[Word]  # empty unless word timestamps were asked for
    avg_logprob: float
    no_speech_prob: float
    audio_seconds: float
    window_frames: int
    fell_back: bool = False  # decoded again on the full window
    problems: list[str] = field(default_factory=list)  # hallucination signs of the result kept
    encode_s: float = 0.0
    decode_s: float = 0.0
    align_s: float = 0.0
    language: str | None = None  # the language decoded in (None: an English-only model)
    # With language detection: the detector's probability of `language` (0..1); None when it was given.
    language_probability: float | None = None
    detected: str | None = None  # with detection: the detector's most probable language (may differ: see below)
    prefix_dropped: bool = False  # detection chose another language than the forced prefix's: decoded without it
    task: str = "transcribe"
    # With ``token_probabilities``: the model's probability (0..1) of each of ``tokens`` at its step, from the
    # decoder's logits (NaN for the forced prefix: not computed); else empty.
    token_probs: list[float] = field(default_factory=list)

    @property
    def suspicious(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class DecodeRequest:
    """One window for :meth:`WhisperRecognizer.transcribe_batch` (the arguments of ``transcribe``)."""

    audio: np.ndarray  # 16 kHz mono float32, at most 30 s
    prefix: tuple[int, ...] = ()
    previous: tuple[int, ...] = ()
    word_timestamps: bool = True
    fallback: bool = True

