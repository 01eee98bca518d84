"""DC offset removal by the native core (the front end's first stage, on by default).

:class:`DcBlocker` is the streaming one-pole high-pass ``y[n] = x[n] - x[n-1] + R y[n-1]``,
``R = 1 - 2 pi cutoff_hz / sample_rate`` (10 Hz by default): ``process(chunk)`` returns as many float32
samples, the same whatever the chunking. :func:`dc_block` filters a whole signal with a fresh one: the
offline reference for what the front end hands the VAD and the recognizer.
"""

from __future__ import annotations

import numpy as np

from rtvoice._core import DcBlocker, DcBlockerConfig

__all__ = ["DcBlocker", "DcBlockerConfig", "dc_block", "DEFAULT_CUTOFF_HZ"]

DEFAULT_CUTOFF_HZ = DcBlockerConfig().cutoff_hz


def dc_block(audio, sample_rate: int = 16000, cutoff_hz: float = DEFAULT_CUTOFF_HZ) -> np.ndarray:
    """The whole signal through a fresh DcBlocker (float32, same length). ValueError for non-finite samples."""
    return DcBlocker(sample_rate, cutoff_hz).process(audio)
