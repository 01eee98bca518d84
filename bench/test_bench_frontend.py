"""Whole front end (C++ worker: Silero VAD + endpointer) on dev_long.wav (53 s), against the same job
done with ONNX Runtime's Silero VAD (1 thread) driven from Python plus the same endpointer.

extra_info["x_realtime"] = audio seconds / median wall seconds. With rtvoice::Denoiser in the build,
a second group runs the front end with the denoiser on (the peer has no denoiser).
"""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice.frontend.front_end import FrontEnd, FrontEndConfig
from rtvoice.models import packaged_model
from rtvoice.frontend.vad import MODEL_FILE, Endpointer, load_silero_model
from bench.timing import median_s


@pytest.fixture(scope="module")
def audio(dev_long):
    return dev_long.load().astype(np.float32)


def _run_front_end(audio: np.ndarray, denoise: bool = False) -> int:
    seconds = len(audio) / 16000 + 1
    config = FrontEndConfig(input_capacity_s=seconds, audio_queue_s=seconds, denoise=denoise)
    fe = FrontEnd(config, load_silero_model())
    fe.start()
    fe.input.write(audio)  # a whole recording at once: the worker runs flat out on one core
    fe.stop()
    events = fe.poll()
    fe.read_audio()
    fe.read_probabilities()
    assert fe.stats.dropped == 0
    return len(events)


@pytest.mark.benchmark(group="frontend-dev-long")
def test_frontend_dev_long(benchmark, mark, audio):
    mark("rtvoice", audio_s=round(len(audio) / 16000, 2))
    n_events = benchmark.pedantic(_run_front_end, args=(audio,), rounds=10, warmup_rounds=1)
    assert n_events == 22
    benchmark.extra_info["x_realtime"] = round(len(audio) / 16000 / median_s(benchmark), 1)


@pytest.mark.benchmark(group="frontend-dev-long-denoise")
def test_frontend_denoise_dev_long(benchmark, mark, audio):
    mark("rtvoice", audio_s=round(len(audio) / 16000, 2), denoise=True)
    benchmark.pedantic(_run_front_end, args=(audio, True), rounds=10, warmup_rounds=1)
    benchmark.extra_info["x_realtime"] = round(len(audio) / 16000 / median_s(benchmark), 1)


@pytest.mark.benchmark(group="frontend-dev-long")
def test_onnxruntime_vad_plus_endpointer_dev_long(benchmark, mark, audio):
    mark("peer:onnxruntime-silero+python", audio_s=round(len(audio) / 16000, 2))
    _bench_ort_pipeline(benchmark, audio)


@pytest.mark.benchmark(group="frontend-dev-long-denoise")
def test_onnxruntime_vad_plus_endpointer_dev_long_no_denoise(benchmark, mark, audio):
    mark("peer:onnxruntime-silero+python (no denoiser)", audio_s=round(len(audio) / 16000, 2))
    _bench_ort_pipeline(benchmark, audio)


def _bench_ort_pipeline(benchmark, audio):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(packaged_model("silero-vad-16k").path(MODEL_FILE)), options,
                                   providers=["CPUExecutionProvider"])
    sr = np.array(16000, np.int64)

    def run():
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, 64), np.float32)
        endpointer = Endpointer()
        events = []
        padded = np.concatenate([audio, np.zeros(-len(audio) % 512, np.float32)])
        for i in range(len(padded) // 512):
            x = np.concatenate([context, padded[None, i * 512:(i + 1) * 512]], axis=1)
            out, state = session.run(None, {"input": x, "state": state, "sr": sr})
            context = x[:, -64:]
            events += endpointer.accept(float(out[0, 0]), min(512, len(audio) - i * 512))
        return len(events + endpointer.finish())

    n_events = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    assert n_events == 22
    benchmark.extra_info["x_realtime"] = round(len(audio) / 16000 / median_s(benchmark), 1)
