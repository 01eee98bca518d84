"""Denoiser speed against peers measured in the same run, 16 kHz mono, real noisy speech (10 s).

Groups:
- ``denoise-16k-10ms-frames``: a live stream's view, one 10 ms frame per call from Python. rtvoice
  (pybind11) vs SpeexDSP's preprocessor (ctypes, in place on int16) and WebRTC noise suppression
  (webrtc-noise-gain, int16 bytes). Every loop is as lean as its API allows (frames cut beforehand).
- ``denoise-16k-whole-signal``: one call over the whole 10 s. rtvoice (the C++ loop the front-end
  thread runs) vs noisereduce (offline spectral gating, the peer that works on whole signals).

``extra_info["x_realtime"]`` is audio seconds per second of processing (median round).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from bench import denoise_peers as dp
from rtvoice.frontend.denoise import Denoiser
from bench.timing import median_s

SECONDS = 10.0


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    """10 s of real speech (dev_long) with real noise (noise1) at 5 dB SNR."""
    speech = dp.load_speech(include_long=True)["dev_long"][: int(SECONDS * dp.SAMPLE_RATE)]
    noise = dp.load_noise()["noise1"]
    _, mix, _ = dp.mix(speech, noise, 5.0, offset=0)
    return mix


def _label(benchmark, impl: str) -> None:
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["audio_seconds"] = SECONDS


def _x_realtime(benchmark) -> None:
    benchmark.extra_info["x_realtime"] = round(SECONDS / median_s(benchmark), 1)


@pytest.mark.benchmark(group="denoise-16k-10ms-frames")
def test_rtvoice_frames(benchmark, noisy):
    _label(benchmark, "rtvoice")
    frames = [np.ascontiguousarray(f) for f in noisy.reshape(-1, dp.HOP)]

    def run():
        d = Denoiser(dp.SAMPLE_RATE)
        for f in frames:
            d.process(f)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    _x_realtime(benchmark)


@pytest.mark.benchmark(group="denoise-16k-10ms-frames")
def test_speexdsp_frames(benchmark, noisy):
    _label(benchmark, "peer:speexdsp")
    pcm = np.clip(np.round(noisy * 32768), -32768, 32767).astype(np.int16)
    lib = dp.SpeexDenoiser._library()

    def run():
        s = dp.SpeexDenoiser()
        work = pcm.copy()
        base = work.ctypes.data
        step = dp.HOP * 2
        ptype = ctypes.POINTER(ctypes.c_int16)
        state, process = s._state, lib.speex_preprocess_run
        for i in range(len(work) // dp.HOP):
            process(state, ctypes.cast(base + i * step, ptype))

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    _x_realtime(benchmark)


@pytest.mark.benchmark(group="denoise-16k-10ms-frames")
def test_webrtc_frames(benchmark, noisy):
    _label(benchmark, "peer:webrtc-ns")
    pcm = np.clip(np.round(noisy * 32768), -32768, 32767).astype(np.int16)
    frames = [f.tobytes() for f in pcm.reshape(-1, dp.HOP)]

    def run():
        w = dp.WebRtcDenoiser()
        for f in frames:
            w.run_bytes(f)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    _x_realtime(benchmark)


@pytest.mark.benchmark(group="denoise-16k-whole-signal")
def test_rtvoice_whole_signal(benchmark, noisy):
    _label(benchmark, "rtvoice")
    benchmark.pedantic(lambda: Denoiser(dp.SAMPLE_RATE).process(noisy), rounds=10, warmup_rounds=1)
    _x_realtime(benchmark)


@pytest.mark.benchmark(group="denoise-16k-whole-signal")
def test_noisereduce_whole_signal(benchmark, noisy):
    _label(benchmark, "peer:noisereduce")
    benchmark.pedantic(lambda: dp.noisereduce_signal(noisy), rounds=3, warmup_rounds=1)
    _x_realtime(benchmark)
