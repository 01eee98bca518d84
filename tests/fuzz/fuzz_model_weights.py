"""Fuzz model-weight loading: the Silero VAD weights (ONNX file → initializers → native network) and the Piper
voice config (``.onnx.json``).

Each input picks one of three paths:

- the packaged ``silero_vad_16k_op15.onnx`` with bytes overwritten, inserted or cut off (the fuzz input says
  where and what), loaded with :func:`rtvoice.frontend.vad.load_silero_model`;
- the real initializers with one tensor replaced (another shape, dtype, rank, non-finite values) or removed,
  given to the native :class:`rtvoice._core.SileroVadModel`;
- arbitrary bytes as a voice config, read by rtvoice's Piper config reader.

Loading must end in one ModelError/ValueError with a message, or in a model whose probabilities are finite
and in [0, 1]; never any other exception, a crash or a hang.
"""

import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice import _core
    from rtvoice.errors import ModelError
    from rtvoice.models import packaged_model
    from rtvoice.tts.voice import _read_config
    from rtvoice.frontend.vad import MODEL_FILE, MODEL_NAME, SileroVad, load_silero_model, load_silero_weights

_DIR = tempfile.mkdtemp(prefix="rtvoice-fuzz-model-")
_MODEL_BYTES = packaged_model(MODEL_NAME).path(MODEL_FILE).read_bytes()
_WEIGHTS = load_silero_weights()
_NAMES = sorted(_WEIGHTS)
_DTYPES = (np.float32, np.float64, np.float16, np.int32, np.int8, np.bool_, np.complex64)
_AUDIO = (np.sin(np.arange(512) * 0.05) * 0.3).astype(np.float32)


def _check_model(model) -> None:
    vad = SileroVad(model)
    for _ in range(2):
        p = vad.prob(_AUDIO)
        assert np.isfinite(p) and 0.0 <= p <= 1.0, p


def _corrupted_file(fdp: atheris.FuzzedDataProvider) -> None:
    data = bytearray(_MODEL_BYTES)
    for _ in range(fdp.ConsumeIntInRange(1, 8)):
        action = fdp.ConsumeIntInRange(0, 2)
        at = fdp.ConsumeIntInRange(0, len(data))
        if action == 0:
            chunk = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16))
            data[at:at + len(chunk)] = chunk
        elif action == 1:
            data[at:at] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16))
        else:
            del data[at:]
    path = os.path.join(_DIR, "model.onnx")
    with open(path, "wb") as f:
        f.write(bytes(data))
    try:
        model = load_silero_model(path)
    except ModelError as error:
        assert str(error)
        return
    _check_model(model)


def _changed_tensor(fdp: atheris.FuzzedDataProvider) -> None:
    tensors = dict(_WEIGHTS)
    name = _NAMES[fdp.ConsumeIntInRange(0, len(_NAMES) - 1)]
    action = fdp.ConsumeIntInRange(0, 4)
    original = tensors[name]
    if action == 0:
        del tensors[name]
    elif action == 1:  # another shape
        rank = fdp.ConsumeIntInRange(0, 4)
        shape = tuple(fdp.ConsumeIntInRange(0, 300) for _ in range(rank))
        size = int(np.prod(shape)) if shape else 1
        if size > 1 << 20:
            return
        tensors[name] = np.resize(original, shape).astype(np.float32)
    elif action == 2:  # another dtype, same values where they convert
        tensors[name] = original.astype(_DTYPES[fdp.ConsumeIntInRange(0, len(_DTYPES) - 1)])
    elif action == 3:  # some values replaced by anything a float32 can hold
        changed = original.copy().ravel()
        for _ in range(fdp.ConsumeIntInRange(1, 8)):
            changed[fdp.ConsumeIntInRange(0, changed.size - 1)] = fdp.ConsumeFloat()
        tensors[name] = changed.reshape(original.shape)
    else:  # not an array at all
        tensors[name] = fdp.ConsumeUnicode(8)
    try:
        model = _core.SileroVadModel(tensors)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    _check_model(model)


def _voice_config(fdp: atheris.FuzzedDataProvider) -> None:
    path = Path(_DIR) / "voice.onnx.json"
    path.write_bytes(fdp.ConsumeBytes(fdp.remaining_bytes()))
    try:
        config, data = _read_config(path)
    except ModelError as error:
        assert str(error)
        return
    assert 4000 <= config.sample_rate <= 192000 and config.phoneme_id_map and isinstance(data, dict)


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    path = fdp.ConsumeIntInRange(0, 2)
    (_corrupted_file, _changed_tensor, _voice_config)[path](fdp)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
