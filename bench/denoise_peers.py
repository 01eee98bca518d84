"""Shared pieces of the denoiser quality evaluation, its test and its speed bench.

- locating and loading the real recordings in ``../shared/data`` (or ``$RTVOICE_SHARED_DATA``),
- deterministic speech + noise mixtures at a given SNR,
- the peer denoisers, each as a streaming object with ``process(chunk) -> chunk`` on float32 16 kHz
  samples: SpeexDSP's preprocessor (ctypes on Debian's libspeexdsp1), WebRTC noise suppression
  (``webrtc-noise-gain``), RNNoise (the library shipped in ``pyrnnoise``, 48 kHz, resampled with soxr),
  and ``noisereduce`` (offline only),
- the metrics: wide-band PESQ, STOI and SI-SDR, on signals aligned for each method's delay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # 10 ms at 16 kHz


# --- data ------------------------------------------------------------------------------------------
def shared_data_dir() -> Path:
    """``<checkout>/../shared/data``, else ``$RTVOICE_SHARED_DATA``; raises FileNotFoundError."""
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    candidates = [beside]
    if os.environ.get("RTVOICE_SHARED_DATA"):
        candidates.append(Path(os.environ["RTVOICE_SHARED_DATA"]))
    for path in candidates:
        if (path / "speech" / "manifest.tsv").is_file():
            return path
    raise FileNotFoundError(f"shared test data not found in {[str(p) for p in candidates]}; set RTVOICE_SHARED_DATA")


def _manifest(kind: str) -> list[dict]:
    path = shared_data_dir() / kind / "manifest.tsv"
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def _read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE or audio.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono, got {rate} Hz shape {audio.shape}")
    return audio


def load_speech(include_long: bool = False) -> dict[str, np.ndarray]:
    """The shared utterances by id (``dev_long`` only when asked)."""
    rows = _manifest("speech")
    return {
        r["id"]: _read_wav(shared_data_dir() / "speech" / r["wav"])
        for r in rows
        if include_long or r["id"] != "dev_long"
    }


def load_noise() -> dict[str, np.ndarray]:
    rows = _manifest("noise")
    return {r["id"]: _read_wav(shared_data_dir() / "noise" / r["wav"]) for r in rows}


@dataclass(frozen=True)
class Mixture:
    utterance: str
    noise: str
    snr_db: float
    offset: int  # first noise sample under the utterance
    clean: np.ndarray
    noisy: np.ndarray
    lead_in: np.ndarray  # the same noise just before the utterance (same gain), for streaming methods

    def stream(self) -> np.ndarray:
        """What a streaming denoiser hears: the noise lead-in, then the noisy utterance."""
        return np.concatenate([self.lead_in, self.noisy])


def noise_offset(noise_len: int, utterance: str, noise: str, split: str) -> int:
    """Deterministic noise start for a (utterance, noise) pair; ``split`` 'eval' or 'tune' give
    different offsets, so parameters tuned on one are scored on the other."""
    import zlib

    seed = zlib.crc32(f"{split}/{utterance}/{noise}".encode())
    return int(np.random.default_rng(seed).integers(0, noise_len))


def mix(
    clean: np.ndarray, noise: np.ndarray, snr_db: float, offset: int, lead_in: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, noisy, lead): ``noise`` from ``offset`` (wrapping) scaled to ``snr_db`` over the whole
    utterance, and the ``lead_in`` noise samples before it at the same gain; all scaled down together
    if the mixture would clip int16."""
    idx = (offset + np.arange(-lead_in, len(clean))) % len(noise)
    n = noise[idx].astype(np.float64)
    s = clean.astype(np.float64)
    gain = np.sqrt(np.sum(s**2) / (np.sum(n[lead_in:] ** 2) * 10 ** (snr_db / 10)))
    noisy = s + gain * n[lead_in:]
    lead = gain * n[:lead_in]
    peak = max(np.max(np.abs(noisy)), np.max(np.abs(lead), initial=0.0))
    scale = min(1.0, 0.95 / peak) if peak > 0 else 1.0
    f32 = np.float32
    return (s * scale).astype(f32), (noisy * scale).astype(f32), (lead * scale).astype(f32)


def mixtures(snrs, split: str = "eval", utterances=None, noises=None, lead_in_s: float = 1.0) -> list[Mixture]:
    speech = load_speech()
    noise = load_noise()
    out = []
    for uid, s in speech.items():
        if utterances is not None and uid not in utterances:
            continue
        for nid, n in noise.items():
            if noises is not None and nid not in noises:
                continue
            off = noise_offset(len(n), uid, nid, split)
            for snr in snrs:
                clean, noisy, lead = mix(s, n, snr, off, int(round(lead_in_s * SAMPLE_RATE)))
                out.append(Mixture(uid, nid, float(snr), off, clean, noisy, lead))
    return out


# --- peers -----------------------------------------------------------------------------------------
def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class _FrameStream:
    """A 10 ms frame processor run over a whole signal."""

    def process_frames(self, x: np.ndarray) -> np.ndarray:
        """Whole signal, frame by frame, no added delay; a trailing partial frame is zero-padded."""
        n = len(x)
        padded = np.concatenate([np.asarray(x, np.float32), np.zeros((-n) % HOP, np.float32)])
        return np.concatenate([self._frame(padded[i : i + HOP]) for i in range(0, len(padded), HOP)])[:n]


class SpeexDenoiser(_FrameStream):
    """SpeexDSP preprocessor, denoise only (AGC, VAD, dereverb off), 10 ms int16 frames at 16 kHz."""

    name = "SpeexDSP"
    _lib = None

    @classmethod
    def _library(cls):
        if cls._lib is None:
            path = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
            lib = ctypes.CDLL(path)
            lib.speex_preprocess_state_init.restype = ctypes.c_void_p
            lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
            lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16)]
            cls._lib = lib
        return cls._lib

    def __init__(self) -> None:
        lib = self._library()
        self._state = lib.speex_preprocess_state_init(HOP, SAMPLE_RATE)
        on = ctypes.c_int(1)
        lib.speex_preprocess_ctl(self._state, 0, ctypes.byref(on))  # SPEEX_PREPROCESS_SET_DENOISE
        self._buf = np.zeros(HOP, np.int16)
        self._ptr = self._buf.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))

    def run_int16(self, frame: np.ndarray) -> np.ndarray:
        self._buf[:] = frame
        self._lib.speex_preprocess_run(self._state, self._ptr)
        return self._buf

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        return self.run_int16(_to_int16(frame)).astype(np.float32) / 32768.0

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.speex_preprocess_state_destroy(self._state)
            self._state = None


class WebRtcDenoiser(_FrameStream):
    """WebRTC audio processing noise suppression, level 2 (high), AGC off, 10 ms int16 frames."""

    name = "WebRTC NS"

    def __init__(self, level: int = 2) -> None:
        from webrtc_noise_gain import AudioProcessor

        self._ap = AudioProcessor(0, level)

    def run_bytes(self, frame: bytes) -> bytes:
        return self._ap.Process10ms(frame).audio

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        out = self.run_bytes(_to_int16(frame).tobytes())
        return np.frombuffer(out, np.int16).astype(np.float32) / 32768.0


class RnnoiseDenoiser:
    """RNNoise (the library in pyrnnoise): 48 kHz model, 10 ms frames; offline here, resampled with soxr."""

    name = "RNNoise"

    def process_signal(self, x: np.ndarray) -> np.ndarray:
        import soxr
        from pyrnnoise.rnnoise import FRAME_SIZE, create, destroy, lib

        up = soxr.resample(x.astype(np.float32), SAMPLE_RATE, 48000).astype(np.float32) * 32768.0
        n = len(up)
        up = np.concatenate([up, np.zeros((-n) % FRAME_SIZE, np.float32)])
        state = create()
        try:
            for i in range(0, len(up), FRAME_SIZE):
                frame = np.ascontiguousarray(up[i : i + FRAME_SIZE])
                ptr = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                lib.rnnoise_process_frame(state, ptr, ptr)
                up[i : i + FRAME_SIZE] = frame
        finally:
            destroy(state)
        down = soxr.resample(up[:n] / 32768.0, 48000, SAMPLE_RATE).astype(np.float32)
        return down[: len(x)]


def noisereduce_signal(x: np.ndarray) -> np.ndarray:
    """noisereduce's default (non-stationary spectral gating), offline on the whole signal."""
    import noisereduce

    return noisereduce.reduce_noise(y=x, sr=SAMPLE_RATE).astype(np.float32)


# --- metrics ---------------------------------------------------------------------------------------
def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    s = reference.astype(np.float64) - np.mean(reference)
    e = estimate.astype(np.float64) - np.mean(estimate)
    target = np.dot(e, s) / max(np.dot(s, s), 1e-20) * s
    return float(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(e - target, e - target), 1e-20)))


def scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """Wide-band PESQ, STOI and SI-SDR (dB) of an estimate already aligned with its reference."""
    from pesq import pesq
    from pystoi import stoi

    return {
        "pesq": float(pesq(SAMPLE_RATE, reference, estimate, "wb")),
        "stoi": float(stoi(reference, estimate, SAMPLE_RATE, extended=False)),
        "si_sdr": si_sdr(reference, estimate),
    }


def align(output: np.ndarray, delay: int, length: int) -> np.ndarray:
    """The part of a delayed output that lines up with input samples [0, length)."""
    out = np.asarray(output, np.float32)[delay : delay + length]
    if len(out) < length:
        out = np.concatenate([out, np.zeros(length - len(out), np.float32)])
    return out


def estimate_delay(reference: np.ndarray, output: np.ndarray, max_delay: int = 1600) -> int:
    """Lag (samples, >= 0) that maximises the cross-correlation of ``output`` with ``reference``."""
    n = len(reference)
    best, best_lag = -np.inf, 0
    r = reference.astype(np.float64)
    o = np.concatenate([output.astype(np.float64), np.zeros(max_delay)])
    for lag in range(max_delay + 1):
        c = np.dot(r, o[lag : lag + n])
        if c > best:
            best, best_lag = c, lag
    return best_lag
