"""Streaming speech enhancement (noise suppression) by the native core.

:class:`Denoiser` is the streaming object: ``process(chunk)`` takes any number of float samples
(16 or 48 kHz, mono, in [-1, 1]) and returns as many, delayed by ``latency_samples``; the output does
not depend on how the input is cut into chunks. :func:`denoise` runs a whole signal through a fresh
denoiser and removes that delay.

The method: OM-LSA gain (log-spectral-amplitude MMSE gain weighted by an IMCRA speech-presence
probability), noise power tracked by speech-presence-steered recursive averaging bounded by minimum
statistics, a gain floor that fades out as the long-term SNR rises so clean speech passes unchanged.
See ``cpp/include/rtvoice/denoiser.h`` for the details.
"""

from __future__ import annotations

import numpy as np

from rtvoice._core import Denoiser, DenoiserConfig

__all__ = ["Denoiser", "DenoiserConfig", "denoise"]


def denoise(audio, sample_rate: int = 16000, **options) -> np.ndarray:
    """Enhance a whole signal: float32 array of the same length, aligned with the input.

    ``options`` are Denoiser's keyword arguments (``window_ms``, ``gain_floor_db``, ...). Raises
    ValueError for an unsupported sample rate, a non-1-D array or non-finite samples, TypeError for
    non-float samples.
    """
    d = Denoiser(sample_rate, **options)
    out = d.process(audio)
    tail = d.process(np.zeros(d.latency_samples, np.float32))
    return np.concatenate([out, tail])[d.latency_samples :]
