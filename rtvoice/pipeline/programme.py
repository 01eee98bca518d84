"""The programme as a listener of a delayed broadcast hears it (``rtvoice dub --program-delay S --mix FILE``):
the source, ``S`` seconds late, ducked under the dubbed voice, with the voice on top.

A broadcaster that delays its programme (as live-subtitle and dubbing services do) can put the dub in sync
with the speaker: the dubbed track's lines are already placed against the source times plus ``S``
(rtvoice.pipeline.dubbing), so mixing is a sum. Ducking: wherever the voice is sounding (its level in 20 ms
frames over ``VOICE_FLOOR``, held for ``HOLD_S`` so that the source does not pump up between words), the
source is ``duck_db`` down, with ``RAMP_S`` ramps. Written at the dubbed track's rate, mono, 16-bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtvoice.errors import AudioFormatError

VOICE_FLOOR = 0.01  # -40 dBFS: the dubbed voice is sounding
FRAME_S = 0.02
HOLD_S = 0.25
RAMP_S = 0.05


def _read_mono(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, OSError, RuntimeError) as error:
        raise AudioFormatError(f"cannot read {path}: {error}") from error
    return audio.mean(axis=1), rate


def ducking_gain(voice: np.ndarray, rate: int, duck_db: float = -12.0) -> np.ndarray:
    """Per-sample gain for the source under ``voice`` (1 where the voice is silent, ``duck_db`` under it)."""
    frame = max(1, int(FRAME_S * rate))
    frames = -(-len(voice) // frame)
    padded = np.zeros(frames * frame, np.float32)
    padded[:len(voice)] = np.abs(voice)
    active = padded.reshape(frames, frame).max(axis=1) > VOICE_FLOOR
    hold = max(1, int(round(HOLD_S / FRAME_S)))
    held = np.convolve(active.astype(np.float32), np.ones(hold, np.float32), mode="full")[:frames] > 0
    ducked = np.where(held, np.float32(10 ** (duck_db / 20)), np.float32(1.0))
    gain = np.repeat(ducked, frame)[:len(voice)]
    ramp = max(1, int(RAMP_S * rate))
    return np.convolve(gain, np.ones(ramp, np.float32) / ramp, mode="same").astype(np.float32)


def mix_programme(source_path: Path, dub_path: Path, out_path: Path, delay_s: float, duck_db: float = -12.0) -> None:
    """Write ``out_path``: the source delayed by ``delay_s``, ducked under the dub, plus the dub."""
    import soundfile as sf
    import soxr

    source, source_rate = _read_mono(source_path)
    voice, rate = _read_mono(dub_path)
    if source_rate != rate:
        source = soxr.resample(source, source_rate, rate).astype(np.float32)
    delayed = np.concatenate([np.zeros(int(round(delay_s * rate)), np.float32), source])
    length = max(len(delayed), len(voice))
    delayed = np.pad(delayed, (0, length - len(delayed)))
    voice = np.pad(voice, (0, length - len(voice)))
    mixed = delayed * ducking_gain(voice, rate, duck_db) + voice
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    if peak > 0.99:  # never clip: the whole mix down
        mixed *= 0.99 / peak
    try:
        sf.write(str(out_path), mixed, rate, subtype="PCM_16")
    except (sf.LibsndfileError, OSError, ValueError) as error:
        raise AudioFormatError(f"cannot write {out_path}: {error}") from error
