"""Pitch (F0) of speech: the YIN estimator in numpy, frame by frame, with a voicing decision.

YIN (de Cheveigné and Kawahara, JASA 2002): for each frame, the difference function
``d(tau) = sum_j (x[j] - x[j + tau])**2`` over an integration window, normalised by its running mean
(the cumulative mean normalised difference, CMND, which is 1 where the frame does not repeat and near 0
at a period); the period is the first lag in the search range whose CMND dips below ``threshold`` (then
followed down to its trough), else the lag of the lowest CMND; refined by parabolic interpolation. Taking
the first dip, not the deepest, is what keeps YIN off the sub-harmonics (octave-too-low errors).

A frame counts as voiced when its CMND trough is below ``voicing_threshold`` (a periodic frame) and it is
loud enough: within ``energy_range_db`` of the loudest frame of the same call (a relative gate, so a quiet
recording is judged like a loud one) and above ``silence_rms`` (digital silence).

Units: audio float32 mono at ``sample_rate`` (16 kHz: the rate captions' source audio has), F0 in Hz,
times in seconds from the start of the audio given (frame centres).

Example::

    track = estimate_pitch(audio)             # PitchTrack: f0_hz (nan where unvoiced), voiced, times_s
    track.median_hz, track.voiced_s           # median F0 of the voiced frames, seconds of voiced speech
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PitchConfig", "PitchTrack", "estimate_pitch"]


@dataclass(frozen=True)
class PitchConfig:
    """YIN settings (the defaults suit adult speech at 16 kHz)."""

    sample_rate: int = 16000
    frame_s: float = 0.040  # analysis frame: integration window plus the longest period searched
    hop_s: float = 0.010
    min_hz: float = 60.0
    max_hz: float = 400.0
    threshold: float = 0.10  # CMND dip that counts as a period (YIN's absolute threshold)
    voicing_threshold: float = 0.25  # a frame whose CMND trough is above this is aperiodic (unvoiced)
    energy_range_db: float = 35.0  # frames quieter than the loudest one by more than this are unvoiced
    silence_rms: float = 1e-5  # frames below this RMS (-100 dBFS) are unvoiced whatever the rest

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0 Hz, got {self.sample_rate}")
        if not 0 < self.min_hz < self.max_hz < self.sample_rate / 4:
            raise ValueError(f"need 0 < min_hz < max_hz < sample_rate/4, got {self.min_hz}..{self.max_hz} Hz")
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be > 0, got {self.hop_s}")
        if self.window_samples < self.max_lag:
            raise ValueError(f"frame_s {self.frame_s} s is too short for min_hz {self.min_hz} Hz: it must hold "
                             f"two periods ({2 / self.min_hz:.4f} s)")
        if not 0 < self.threshold <= self.voicing_threshold <= 1:
            raise ValueError(f"need 0 < threshold <= voicing_threshold <= 1, got {self.threshold}, "
                             f"{self.voicing_threshold}")

    @property
    def frame_samples(self) -> int:
        return int(round(self.frame_s * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return max(1, int(round(self.hop_s * self.sample_rate)))

    @property
    def min_lag(self) -> int:
        return max(2, int(np.floor(self.sample_rate / self.max_hz)))

    @property
    def max_lag(self) -> int:
        return int(np.ceil(self.sample_rate / self.min_hz))

    @property
    def window_samples(self) -> int:
        """The integration window (samples): what the frame holds beyond the longest lag."""
        return self.frame_samples - self.max_lag


@dataclass(frozen=True)
class PitchTrack:
    """F0 per frame. ``f0_hz`` is nan where ``voiced`` is False; ``times_s`` are frame centres (s)."""

    f0_hz: np.ndarray
    voiced: np.ndarray
    times_s: np.ndarray
    hop_s: float

    @property
    def voiced_frames(self) -> int:
        return int(np.count_nonzero(self.voiced))

    @property
    def voiced_s(self) -> float:
        """Seconds of voiced speech (voiced frames x hop)."""
        return self.voiced_frames * self.hop_s

    @property
    def median_hz(self) -> float | None:
        """Median F0 of the voiced frames (Hz); None when no frame is voiced."""
        if not self.voiced_frames:
            return None
        return float(np.median(self.f0_hz[self.voiced]))


def estimate_pitch(audio, config: PitchConfig = PitchConfig()) -> PitchTrack:
    """The F0 track of ``audio`` (float mono samples at ``config.sample_rate``; see the module docstring).

    Audio shorter than one frame gives an empty track. ValueError for non-finite samples or a non-1-D array.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"pitch estimation needs mono audio (a 1-D array), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("pitch estimation needs finite samples (the audio holds nan or inf)")
    n, hop, window = config.frame_samples, config.hop_samples, config.window_samples
    if len(x) < n:
        empty = np.zeros(0)
        return PitchTrack(empty, np.zeros(0, dtype=bool), empty, config.hop_s)
    x = x - x.mean()
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    count = len(frames)
    times = (np.arange(count) * hop + n / 2) / config.sample_rate

    cmnd = _cmnd(frames, window, config.max_lag)
    lag, trough = _pick_lags(cmnd, config)
    f0 = config.sample_rate / lag

    rms = np.sqrt(np.mean(frames[:, :window] ** 2, axis=1))
    loud = rms > max(config.silence_rms, rms.max() * 10 ** (-config.energy_range_db / 20))
    voiced = loud & (trough < config.voicing_threshold) & (f0 >= config.min_hz) & (f0 <= config.max_hz)
    return PitchTrack(np.where(voiced, f0, np.nan), voiced, times, config.hop_s)


def _cmnd(frames: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """YIN's cumulative mean normalised difference, lags 0..max_lag, per frame (rows)."""
    n = frames.shape[1]
    size = 1 << int(np.ceil(np.log2(n + window)))
    # sum_j x[j] x[j+tau] over the window, every lag at once: the window correlated with the whole frame
    spectrum = np.fft.rfft(frames, size, axis=1) * np.conj(np.fft.rfft(frames[:, :window], size, axis=1))
    cross = np.fft.irfft(spectrum, size, axis=1)[:, :max_lag + 1]
    energy = np.cumsum(np.pad(frames ** 2, ((0, 0), (1, 0))), axis=1)  # energy[:, k] = sum of x[:k]**2
    lags = np.arange(max_lag + 1)
    window_energy = energy[:, window:window + 1]  # sum of x[0:W]**2
    shifted_energy = energy[:, lags + window] - energy[:, lags]  # sum of x[tau:tau+W]**2
    diff = np.maximum(window_energy + shifted_energy - 2 * cross, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(running > 0, diff[:, 1:] * lags[1:] / running, 1.0)
    return cmnd


def _pick_lags(cmnd: np.ndarray, config: PitchConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the period (fractional lag, samples) and the CMND at it (see the module docstring)."""
    lo, hi = config.min_lag, config.max_lag
    band = cmnd[:, lo:hi + 1]
    rows = np.arange(len(cmnd))
    below = band < config.threshold
    first = np.where(below.any(axis=1), below.argmax(axis=1), -1)
    # follow a dip down to its trough: the first lag after `first` where the CMND stops falling
    rising = np.diff(band, axis=1) >= 0  # rising[:, k]: band[k+1] >= band[k]
    after = np.arange(band.shape[1] - 1)[None, :] >= np.maximum(first, 0)[:, None]
    stop = rising & after
    trough_of_dip = np.where(stop.any(axis=1), stop.argmax(axis=1), band.shape[1] - 1)
    k = np.where(first >= 0, trough_of_dip, band.argmin(axis=1))
    value = band[rows, k]
    # parabolic interpolation through the trough and its neighbours (where it has both)
    inner = (k > 0) & (k < band.shape[1] - 1)
    left = band[rows, np.maximum(k - 1, 0)]
    right = band[rows, np.minimum(k + 1, band.shape[1] - 1)]
    curvature = left - 2 * value + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(inner & (curvature > 0), 0.5 * (left - right) / curvature, 0.0)
    return lo + k + np.clip(shift, -0.5, 0.5), value
