"""Voice benchmarks: first-audio latency and real-time factor, rtvoice vs piper-tts in the same run.

First audio = text handed over -> first sample written into an output RingBuffer (resampled with soxr
to 48 kHz, as playback does). rtvoice streams (short first piece, windowed flow/decoder); the peer is
``piper.PiperVoice.synthesize`` with the same voice, whose first audio is its whole first sentence.
The peer runs on a session with the same ONNX Runtime options as rtvoice (threads, no spinning), so
the ratio measures the streaming design, not thread settings. p95 is in each result's extra_info.

Real-time factor = synthesis time / audio duration, for a paragraph, both engines.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import soxr

from rtvoice import RingBuffer
from bench.timing import timings_s

SHORT = "Hello there, friend."
LONG = ("The committee met on Tuesday afternoon to review the quarterly budget and after a long discussion "
        "about travel costs and new equipment they agreed to postpone the final decision until the director "
        "returns from the conference next month.")
PARAGRAPH = ("Streaming speech should start quickly and sound natural. " + LONG +
             " Please call Stella and ask her to bring these things with her from the store. "
             "We will meet at the station at seven in the morning.")
OUT_RATE = 48000


@functools.lru_cache(maxsize=None)
def _voice():
    from rtvoice.tts import load_voice

    return load_voice()


@functools.lru_cache(maxsize=None)
def _piper():
    import onnxruntime as ort
    from piper import PiperVoice
    from piper.config import PiperConfig

    v = _voice()
    session = ort.InferenceSession(str(v.model_path), sess_options=v._session_options(),
                                   providers=v.provider_choice.providers)
    voice = PiperVoice(session=session, config=PiperConfig.from_dict(v.config_data))
    list(voice.synthesize("Warming up."))
    return voice


def _ours_first_audio(text: str) -> int:
    from rtvoice.tts import Synthesizer

    ring = RingBuffer(OUT_RATE * 4)
    resampler = soxr.ResampleStream(_voice().sample_rate, OUT_RATE, 1, dtype="float32")
    stream = Synthesizer(_voice()).stream(text)
    written = 0
    for chunk in stream:
        written = ring.write(resampler.resample_chunk(chunk.samples))
        if written:
            break
    stream.close()
    return written


def _piper_first_audio(text: str) -> int:
    ring = RingBuffer(OUT_RATE * 64)
    resampler = soxr.ResampleStream(_voice().sample_rate, OUT_RATE, 1, dtype="float32")
    for chunk in _piper().synthesize(text):
        return ring.write(resampler.resample_chunk(chunk.audio_float_array))
    return 0


def _label(benchmark, mark, engine: str, **extra) -> None:
    data = np.asarray(timings_s(benchmark))
    mark("rtvoice" if engine == "rtvoice" else "peer:piper-tts", p50_s=float(np.percentile(data, 50)),
         p95_s=float(np.percentile(data, 95)), **extra)


@pytest.mark.benchmark(group="tts-first-audio-short")
@pytest.mark.parametrize("engine", ["rtvoice", "piper"])
def test_first_audio_short(benchmark, mark, engine):
    fn = _ours_first_audio if engine == "rtvoice" else _piper_first_audio
    _voice(), _piper()
    assert benchmark.pedantic(fn, args=(SHORT,), rounds=20, iterations=1, warmup_rounds=2) > 0
    _label(benchmark, mark, engine, words=len(SHORT.split()))


@pytest.mark.benchmark(group="tts-first-audio-long")
@pytest.mark.parametrize("engine", ["rtvoice", "piper"])
def test_first_audio_long(benchmark, mark, engine):
    fn = _ours_first_audio if engine == "rtvoice" else _piper_first_audio
    _voice(), _piper()
    rounds = 15 if engine == "rtvoice" else 8
    assert benchmark.pedantic(fn, args=(LONG,), rounds=rounds, iterations=1, warmup_rounds=1) > 0
    _label(benchmark, mark, engine, words=len(LONG.split()))


@pytest.mark.benchmark(group="tts-rtf-paragraph")
@pytest.mark.parametrize("engine", ["rtvoice", "piper"])
def test_real_time_factor(benchmark, mark, engine):
    from rtvoice.tts import Synthesizer

    _voice(), _piper()
    if engine == "rtvoice":
        def run():
            return sum(len(c.samples) for c in Synthesizer(_voice()).stream(PARAGRAPH))
    else:
        def run():
            return sum(len(c.audio_float_array) for c in _piper().synthesize(PARAGRAPH))
    samples = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    audio_s = samples / _voice().sample_rate
    mark("rtvoice" if engine == "rtvoice" else "peer:piper-tts", audio_s=audio_s,
         rtf=float(np.median(timings_s(benchmark))) / audio_s)
