"""Silero VAD per 512-sample chunk: the native network vs ONNX Runtime (1 intra-op thread, batch 1).

Both run on the same real speech in the same process; pairs share a benchmark group:
- ``vad-chunk``: one chunk per call from Python (what a caller pays per 32 ms of audio);
- ``vad-100-chunks``: 100 consecutive chunks per call (ours: one ``process`` call; ORT: its loop).
"""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice import _core
from rtvoice.models import packaged_model
from rtvoice.frontend.vad import MODEL_FILE, SileroVad

CHUNKS = 100


@pytest.fixture(scope="module")
def speech(dev_long):
    return dev_long.load()[: 512 * CHUNKS].astype(np.float32)


@pytest.fixture(scope="module")
def ort_session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    path = packaged_model("silero-vad-16k").path(MODEL_FILE)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OrtStream:
    def __init__(self, session):
        self.session = session
        self.state = np.zeros((2, 1, 128), np.float32)
        self.context = np.zeros((1, 64), np.float32)
        self.sr = np.array(16000, np.int64)

    def prob(self, chunk):
        x = np.concatenate([self.context, chunk[None, :]], axis=1)
        out, self.state = self.session.run(None, {"input": x, "state": self.state, "sr": self.sr})
        self.context = x[:, -64:]
        return out[0, 0]


def _chunk_cycler(speech):
    chunks = [speech[i * 512:(i + 1) * 512] for i in range(CHUNKS)]
    index = [0]

    def next_chunk():
        index[0] = (index[0] + 1) % CHUNKS
        return chunks[index[0]]

    return next_chunk


@pytest.mark.benchmark(group="vad-chunk")
def test_native_silero_vad_chunk(benchmark, mark, speech):
    vad = SileroVad()
    next_chunk = _chunk_cycler(speech)
    mark("rtvoice", kernels=_core.dense_kernel_isa())
    benchmark(lambda: vad.prob(next_chunk()))


@pytest.mark.benchmark(group="vad-chunk")
def test_onnxruntime_silero_vad_chunk(benchmark, mark, speech, ort_session):
    mark("peer:onnxruntime", threads=1)
    stream = OrtStream(ort_session)
    next_chunk = _chunk_cycler(speech)
    benchmark(lambda: stream.prob(next_chunk()))


@pytest.mark.benchmark(group="vad-100-chunks")
def test_native_silero_vad_100_chunks(benchmark, mark, speech):
    vad = SileroVad()
    mark("rtvoice", kernels=_core.dense_kernel_isa(), chunks_per_call=CHUNKS)
    benchmark(vad.process, speech)


@pytest.mark.benchmark(group="vad-100-chunks")
def test_onnxruntime_silero_vad_100_chunks(benchmark, mark, speech, ort_session):
    mark("peer:onnxruntime", threads=1, chunks_per_call=CHUNKS)
    stream = OrtStream(ort_session)
    chunks = [speech[i * 512:(i + 1) * 512] for i in range(CHUNKS)]

    def run():
        for chunk in chunks:
            stream.prob(chunk)

    benchmark(run)
