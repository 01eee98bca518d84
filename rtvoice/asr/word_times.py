"""Word times from the alignment pass, tidied as Whisper's own timing code does (docs/asr.md,
"Recognition")."""

from __future__ import annotations

import numpy as np

from rtvoice.asr.transcript import Word
from rtvoice.asr.window import HOP, SAMPLE_RATE


def speech_onset(audio: np.ndarray, floor_db: float = 35.0) -> float:
    """Seconds to the first 10 ms frame whose energy is within `floor_db` of the loudest frame."""
    frames = len(audio) // HOP
    if frames == 0:
        return 0.0
    energy = np.square(audio[:frames * HOP].reshape(frames, HOP), dtype=np.float64).mean(axis=1)
    peak = float(energy.max())
    if peak <= 0.0:
        return 0.0
    loud = np.flatnonzero(energy >= peak * 10 ** (-floor_db / 10))
    return float(loud[0]) * HOP / SAMPLE_RATE


_SENTENCE_END = (".", "!", "?", "。", "！", "？")


def tidy_word_times(words: list[Word], onset: float) -> list[Word]:
    """Shorten words that swallowed a pause (see WhisperRecognizer._align)."""
    if not words:
        return words
    durations = [w.end - w.start for w in words if w.end > w.start]
    median = min(float(np.median(durations)), 0.7) if durations else 0.0
    longest = 2 * median
    out = list(words)
    if longest > 0:
        for i, w in enumerate(out):
            if w.end - w.start <= longest:
                continue
            after_stop = i == 0 or out[i - 1].text.rstrip().endswith(_SENTENCE_END)
            before_stop = w.text.rstrip().endswith(_SENTENCE_END)
            if after_stop:
                out[i] = Word(w.text, w.end - longest, w.end, w.probability)
            elif before_stop:
                out[i] = Word(w.text, w.start, w.start + longest, w.probability)
    first = out[0]
    if onset > first.start:
        out[0] = Word(first.text, min(onset, first.end), first.end, first.probability)
    return out
