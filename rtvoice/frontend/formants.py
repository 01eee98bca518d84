"""Formants and formant spacing (a vocal tract length cue) of voiced speech, by linear prediction in numpy.

Why beside pitch: F0 tells men from women on most lines, but a man speaking up (an orator, a shout) rises
into the women's range: Kennedy's "ask not" clip has a median F0 of about 245 Hz. The vocal tract does not
get shorter when a speaker raises the voice, and its length sets the spacing of the formants: a uniform tube
closed at the glottis resonates at ``F_i = (2i - 1) c / (4 L)``, so the spacing is ``dF = c / (2 L)``
(about 1000 Hz for an adult man's 17 cm tract, about 1200 Hz for a woman's 14.5 cm; Fitch 1997, Reby and
McComb 2003 fit ``dF`` to the first formants the same way).

Per voiced frame (frame centres from a :class:`~rtvoice.frontend.pitch.PitchTrack`): the audio resampled to
``analysis_rate`` (10 kHz, so the predictor spends its poles on F1-F4), pre-emphasised, a Hamming window
of ``frame_s``, autocorrelation LPC of ``order`` (Levinson-Durbin), the roots' angles as formant
frequencies (those with a bandwidth under ``max_bandwidth_hz``, above ``min_hz``); ``dF`` is the least
squares fit of ``F_i = (2i - 1) dF / 2`` to the first four. Frames with fewer than four formants are
skipped.

Units: audio float32 mono at ``sample_rate`` (16 kHz), frequencies in Hz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FormantConfig", "FormantSpacing", "formant_spacing", "lpc_formants"]

_TUBE = np.array([0.5, 1.5, 2.5, 3.5])  # F_i / dF for the first four formants of a uniform tube


@dataclass(frozen=True)
class FormantConfig:
    sample_rate: int = 16000
    analysis_rate: int = 10000
    frame_s: float = 0.025
    order: int = 12  # two poles per formant below analysis_rate / 2 (five), plus two for the spectral tilt
    pre_emphasis: float = 0.97
    min_hz: float = 200.0
    max_bandwidth_hz: float = 400.0

    def __post_init__(self) -> None:
        if not 0 < self.analysis_rate <= self.sample_rate:
            raise ValueError(f"analysis_rate must be within 1..{self.sample_rate} Hz, got {self.analysis_rate}")
        if self.order < 8:
            raise ValueError(f"order must be >= 8 (four formants), got {self.order}")


@dataclass(frozen=True)
class FormantSpacing:
    """Per analysed frame: the first four formants (Hz, shape [frames, 4]) and their spacing dF (Hz)."""

    formants_hz: np.ndarray
    spacing_hz: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.spacing_hz)

    @property
    def median_hz(self) -> float | None:
        """Median formant spacing dF over the frames (Hz); None when no frame had four formants."""
        return float(np.median(self.spacing_hz)) if self.frames else None


def lpc_formants(frames: np.ndarray, config: FormantConfig = FormantConfig()) -> list[np.ndarray]:
    """Formant frequencies (Hz, ascending) of each windowed frame (rows, at ``config.analysis_rate``)."""
    order = config.order
    n = frames.shape[1]
    spectrum = np.fft.rfft(frames, 1 << int(np.ceil(np.log2(2 * n))), axis=1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :order + 1]
    r[:, 0] *= 1.0 + 1e-4  # white-noise correction: keeps Levinson-Durbin stable on near-singular frames
    a = _levinson(r, order)
    # the predictor's roots as a batch: eigenvalues of each frame's companion matrix
    companion = np.zeros((len(a), order, order))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    out = []
    for frame_roots in roots:
        upper = frame_roots[frame_roots.imag > 0]
        freq = np.angle(upper) * config.analysis_rate / (2 * np.pi)
        bandwidth = -np.log(np.abs(upper)) * config.analysis_rate / np.pi
        keep = (freq > config.min_hz) & (bandwidth < config.max_bandwidth_hz)
        out.append(np.sort(freq[keep]))
    return out


def formant_spacing(audio, frame_times_s, config: FormantConfig = FormantConfig()) -> FormantSpacing:
    """Formants and spacing dF at the given frame centres (s; e.g. a pitch track's voiced frames)."""
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"formant analysis needs mono audio (a 1-D array), got shape {x.shape}")
    empty = FormantSpacing(np.zeros((0, 4)), np.zeros(0))
    times = np.asarray(frame_times_s, dtype=np.float64)
    if len(times) == 0 or len(x) == 0:
        return empty
    y = soxr.resample(x, config.sample_rate, config.analysis_rate).astype(np.float64)
    y = np.append(y[:1], y[1:] - config.pre_emphasis * y[:-1])
    n = int(round(config.frame_s * config.analysis_rate))
    starts = np.round(times * config.analysis_rate).astype(int) - n // 2
    starts = starts[(starts >= 0) & (starts + n <= len(y))]
    if len(starts) == 0:
        return empty
    frames = y[starts[:, None] + np.arange(n)] * np.hamming(n)
    frames = frames[np.sum(frames ** 2, axis=1) > 0]
    found = [f[:4] for f in lpc_formants(frames, config) if len(f) >= 4] if len(frames) else []
    if not found:
        return empty
    formants = np.array(found)
    return FormantSpacing(formants, formants @ _TUBE / (_TUBE @ _TUBE))


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Prediction polynomials [1, a1..ap] from autocorrelations r[:, 0..p], every row at once."""
    rows = len(r)
    a = np.zeros((rows, order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        k = -(a[:, :i] * r[:, i:0:-1]).sum(axis=1) / error
        a[:, 1:i + 1] = a[:, 1:i + 1] + k[:, None] * a[:, i - 1::-1][:, :i]
        error = error * (1.0 - k ** 2)
    return a
