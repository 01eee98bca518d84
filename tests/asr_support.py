"""Helpers shared by the ASR and caption tests: one loaded Whisper model, WER scoring, known segments."""

from __future__ import annotations

import functools

import jiwer
import numpy as np

from rtvoice.asr import StreamingConfig, StreamingRecognizer, WhisperConfig, WhisperRecognizer
from rtvoice.metrics.text import normalize_english

SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=None)
def whisper(threads: int = 2) -> WhisperRecognizer:
    """The packaged tiny.en model on the CPU, int8 (loaded once per test session)."""
    return WhisperRecognizer(WhisperConfig(device="cpu", threads=threads))


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Word error rate after rtvoice.metrics.text.normalize_english on both sides."""
    refs = [normalize_english(r) for r in references]
    hyps = [normalize_english(h) for h in hypotheses]
    return jiwer.wer(refs, hyps)


def stream_segment(recognizer: WhisperRecognizer, audio: np.ndarray, config: StreamingConfig = StreamingConfig(),
                   chunk: int = 1600, streaming: StreamingRecognizer | None = None, offset: int = 0):
    """Feed `audio` as one speech segment, `chunk` samples at a time; returns (events, streaming recognizer)."""
    s = streaming or StreamingRecognizer(recognizer, config)
    events = s.start_segment(offset)
    for i in range(0, len(audio), chunk):
        events += s.accept_audio(audio[i:i + chunk], offset + i)
    events += s.end_segment(offset + len(audio))
    return events, s


def silence_segments(audio: np.ndarray, min_gap_s: float = 0.3) -> list[tuple[int, int]]:
    """Speech segments of a recording whose pauses are digital silence (exact zeros), as (start, end)
    sample indices. dev_long joins the utterances with 0.6-1.5 s of zeros, so this is exact there."""
    silent = audio == 0.0
    min_gap = int(min_gap_s * SAMPLE_RATE)
    segments = []
    start = None
    run = 0
    for i, quiet in enumerate(silent):
        if quiet:
            run += 1
            if start is not None and run >= min_gap:
                segments.append((start, i - run + 1))
                start = None
        else:
            if start is None:
                start = i
            run = 0
    if start is not None:
        segments.append((start, len(audio)))
    return segments
