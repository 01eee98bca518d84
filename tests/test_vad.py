"""Native Silero VAD against ONNX Runtime running silero_vad_16k_op15.onnx on real recordings."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rtvoice import _core
from rtvoice.errors import ModelError
from rtvoice.models import load_manifest, packaged_model
from rtvoice.frontend.vad import CHUNK_SAMPLES, MODEL_FILE, SileroVad, load_silero_model, load_silero_weights

from speech_data import load_speech, speech_manifest

ORT_TOLERANCE = 1e-4


def onnx_path():
    return packaged_model("silero-vad-16k").path(MODEL_FILE)


class OrtSileroVad:
    """The ONNX file driven the way the silero package's OnnxWrapper drives it at 16 kHz:
    input = [previous 64 samples | 512 new samples], state (2, 1, 128) carried, sr = 16000."""

    def __init__(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path()), options, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self):
        self.state = np.zeros((2, 1, 128), np.float32)
        self.context = np.zeros((1, 64), np.float32)

    def prob(self, chunk):
        x = np.concatenate([self.context, chunk[None, :]], axis=1)
        out, self.state = self.session.run(
            None, {"input": x, "state": self.state, "sr": np.array(16000, np.int64)})
        self.context = x[:, -64:]
        return float(out[0, 0])

    def process(self, audio):
        n = len(audio) // CHUNK_SAMPLES
        return np.array([self.prob(audio[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES]) for i in range(n)])


@pytest.fixture(scope="module")
def ort_vad():
    return OrtSileroVad()


def test_manifest_sha256_matches_the_packaged_file():
    """models/silero-vad-16k.json records the sha256 of the file the weights are read from."""
    expected = load_manifest("silero-vad-16k").files[MODEL_FILE]
    assert hashlib.sha256(onnx_path().read_bytes()).hexdigest() == expected


def test_dev_long_matches_onnx_runtime_chunk_by_chunk(ort_vad):
    audio = load_speech("dev_long")
    ort_vad.reset()
    reference = ort_vad.process(audio)
    vad = SileroVad()
    ours = np.array([vad.prob(audio[i * 512:(i + 1) * 512]) for i in range(len(reference))])
    assert len(reference) == len(audio) // 512 > 1600
    assert np.abs(ours - reference).max() < ORT_TOLERANCE
    # the probabilities are not trivially equal: speech and silence are both present
    assert reference.min() < 0.05 and reference.max() > 0.95
    # the LSTM state carried across 1655 chunks matches the ONNX model's state output
    assert np.abs(vad.state - ort_vad.state[:, 0, :]).max() < 1e-2 * np.abs(ort_vad.state).max()


@pytest.mark.parametrize("utterance", [r["id"] for r in speech_manifest() if r["id"] != "dev_long"])
def test_each_recording_matches_onnx_runtime(ort_vad, utterance):
    audio = load_speech(utterance)
    ort_vad.reset()
    reference = ort_vad.process(audio)
    ours = SileroVad().process(audio[: len(reference) * 512])
    assert np.abs(ours - reference).max() < ORT_TOLERANCE


def test_process_equals_prob_loop_and_reset_restores_the_start():
    audio = load_speech("sense_and_sensibility_01_austen_64kb-0880")
    n = len(audio) // 512
    vad = SileroVad()
    first = np.array([vad.prob(audio[i * 512:(i + 1) * 512]) for i in range(n)], np.float32)
    assert vad.chunks_processed == n
    assert np.abs(vad.state).max() > 0
    vad.reset()
    assert vad.chunks_processed == 0 and not np.any(vad.state)
    again = vad.process(audio[: n * 512])
    assert np.array_equal(first, again)
    # process() continues the stream: two halves == one call
    vad.reset()
    half = (n // 2) * 512
    split = np.concatenate([vad.process(audio[:half]), vad.process(audio[half:n * 512])])
    assert np.array_equal(split, first)


def test_trailing_partial_chunk_is_zero_padded():
    audio = load_speech("spk1_snt1")[:512 * 3 + 100]
    padded = np.concatenate([audio, np.zeros(412, np.float32)])
    assert np.array_equal(SileroVad().process(audio), SileroVad().process(padded))


def test_streams_sharing_a_model_are_independent():
    model = load_silero_model()
    assert load_silero_model() is model  # the packaged model is loaded once
    a, b = SileroVad(model), SileroVad(model)
    speech = load_speech("spk1_snt2")[: 512 * 40]
    pa = a.process(speech)
    b.process(np.zeros(512 * 7, np.float32))
    b.reset()
    assert np.array_equal(b.process(speech), pa)


def test_bad_chunks_are_value_errors():
    vad = SileroVad()
    with pytest.raises(ValueError, match="exactly 512"):
        vad.prob(np.zeros(511, np.float32))
    with pytest.raises(ValueError, match="integer dtype int16"):
        vad.prob(np.zeros(512, np.int16))
    with pytest.raises(ValueError, match="float samples"):
        vad.prob(np.zeros(512, np.complex64))
    bad = np.zeros(512, np.float32)
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf at sample 100"):
        vad.prob(bad)
    with pytest.raises(ValueError, match="1-D"):
        vad.prob(np.zeros((2, 512), np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        vad.process(np.full(2048, np.inf, np.float32))
    assert vad.chunks_processed == 0  # rejected chunks leave the stream untouched
    # float64 input is accepted (converted)
    assert 0.0 <= vad.prob(np.zeros(512, np.float64)) <= 1.0


def test_wrong_weights_are_rejected():
    tensors = load_silero_weights()
    missing = dict(tensors)
    del missing["model.decoder.rnn.bias_hh"]
    with pytest.raises(ValueError, match="lack model.decoder.rnn.bias_hh"):
        _core.SileroVadModel(missing)
    transposed = dict(tensors)
    transposed["model.decoder.rnn.weight_ih"] = tensors["model.decoder.rnn.weight_ih"].T.copy()
    with pytest.raises(ValueError, match=r"shape \(512, 128\)"):
        _core.SileroVadModel(transposed)
    not_hann = dict(tensors)
    basis = tensors["model.stft.forward_basis_buffer"].copy()
    basis[3, 0, 17] += 0.01
    not_hann["model.stft.forward_basis_buffer"] = basis
    with pytest.raises(ValueError, match="periodic-Hann"):
        _core.SileroVadModel(not_hann)


def test_unreadable_model_file_is_a_model_error(tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError):
        load_silero_model(bogus)


def test_weights_that_overflow_are_a_model_error(tmp_path):
    """Found by fuzzing (tests/fuzz/fuzz_model_weights.py): a corrupted file whose weights are finite and
    well shaped but overflow to NaN for every chunk must not load as a VAD that never hears speech."""
    import onnx
    from onnx import numpy_helper

    from rtvoice.models import packaged_model
    from rtvoice.frontend.vad import MODEL_FILE, MODEL_NAME

    model = onnx.load(str(packaged_model(MODEL_NAME).path(MODEL_FILE)))
    for i, tensor in enumerate(model.graph.initializer):
        if tensor.name == "model.encoder.2.reparam_conv.bias":
            huge = np.full(numpy_helper.to_array(tensor).shape, 3e38, np.float32)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(huge, tensor.name))
    path = tmp_path / "overflowing.onnx"
    onnx.save(model, str(path))
    assert len(load_silero_weights(path)) == len(_core.SileroVadModel.weight_names)  # loads as tensors
    with pytest.raises(ModelError, match="not a working Silero VAD model"):
        load_silero_model(path)
