"""Voice activity detection: the Silero VAD network computed natively, and the endpointer.

- :class:`SileroVad` — speech probability per 512-sample chunk (32 ms at 16 kHz), the Silero VAD v5
  16 kHz network run by the C++ core. The weights are the initializers of ``silero_vad_16k_op15.onnx``
  (located with :func:`rtvoice.models.packaged_model` and sha256-checked, read with ``onnx``); the
  ``silero_vad`` package itself is never imported (it imports torch). Probabilities match ONNX Runtime
  running that file to within 1e-4.
- :class:`Endpointer` — turns per-chunk probabilities into speech-start / speech-end events at exact
  sample positions (hysteresis, minimum speech, minimum trailing silence, padding, forced splits).

Example::

    vad = SileroVad()
    probs = vad.process(audio)            # float32 mono 16 kHz -> one probability per 512 samples
    segments = speech_segments(audio)     # [(start_sample, end_sample, forced_end), ...]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from rtvoice import _core
from rtvoice.errors import ModelError

SAMPLE_RATE = 16000
CHUNK_SAMPLES = 512
MODEL_NAME = "silero-vad-16k"
MODEL_FILE = "silero_vad_16k_op15.onnx"

_model_lock = threading.Lock()
_default_model: _core.SileroVadModel | None = None


def load_silero_weights(path=None) -> dict[str, np.ndarray]:
    """The ONNX initializers the native network needs (name -> float32 array).

    path: an ``.onnx`` file; default: the packaged model, sha256-verified against models/silero-vad-16k.json.
    """
    import onnx
    from onnx import numpy_helper

    from rtvoice.models import packaged_model

    if path is None:
        path = packaged_model(MODEL_NAME).path(MODEL_FILE)
    try:
        model = onnx.load(str(path))
    except Exception as error:  # onnx raises several unrelated types for unreadable files
        raise ModelError(f"cannot read Silero VAD model {path}: {error}") from error
    wanted = set(_core.SileroVadModel.weight_names)
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in wanted}
    missing = sorted(wanted - tensors.keys())
    if missing:
        raise ModelError(f"{path} is not a Silero VAD 16 kHz model: it lacks {', '.join(missing)}")
    return tensors


def load_silero_model(path=None) -> _core.SileroVadModel:
    """A native SileroVadModel from an ONNX file (default: the packaged one, loaded once and shared)."""
    global _default_model
    if path is not None:
        return _build_model(load_silero_weights(path), path)
    with _model_lock:
        if _default_model is None:
            _default_model = _build_model(load_silero_weights(), MODEL_FILE)
        return _default_model


def _build_model(tensors: dict, where) -> _core.SileroVadModel:
    try:
        return _core.SileroVadModel(tensors)
    except ValueError as error:
        raise ModelError(f"{where}: {error}") from error


class SileroVad(_core.SileroVad):
    """One stream of the native Silero VAD (16 kHz).

    - ``prob(chunk)``: the next 512 float32 samples -> speech probability; keeps the 64-sample context
      and the LSTM state.
    - ``process(audio)``: one probability per 512-sample chunk (trailing partial chunk zero-padded).
    - ``reset()``: back to the start of a stream.

    Wrong length, integer dtype or NaN/Inf samples raise ValueError.

    Args:
        model: a :class:`rtvoice._core.SileroVadModel`; default: the packaged model (shared).
    """

    def __init__(self, model: _core.SileroVadModel | None = None):
        super().__init__(model if model is not None else load_silero_model())
