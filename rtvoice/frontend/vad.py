"""Voice activity detection: the Silero VAD network computed natively, and the endpointer.

- :class:`SileroVad` — speech probability per 512-sample chunk (32 ms at 16 kHz), the Silero VAD v5
  16 kHz network run by the C++ core. The weights are the initializers of ``silero_vad_16k_op15.onnx``
  (located with :func:`rtvoice.models.packaged_model` and sha256-checked, read with ``onnx``); the
  ``silero_vad`` package itself is never imported (it imports torch). Probabilities match ONNX Runtime
  running that file to within 1e-4.
- :class:`VadLevel` — the gain on what the VAD hears (never on what the recogniser gets): a quiet
  speaker after a loud one is raised towards ``target_peak`` so that Silero's recurrent state hears it
  (see ``cpp/include/rtvoice/vad_level.h`` and docs/asr.md, "Quiet speakers").
- :class:`Endpointer` — turns per-chunk probabilities into speech-start / speech-end events at exact
  sample positions (hysteresis, minimum speech, minimum trailing silence, padding, forced splits).

Example::

    vad = SileroVad()
    probs = vad.process(audio)            # float32 mono 16 kHz -> one probability per 512 samples
    heard, gains = VadLevel().process(audio)   # what the front end's VAD hears, gain per chunk
    segments = speech_segments(audio)     # [(start_sample, end_sample, forced_end), ...]
"""

from __future__ import annotations

import numbers
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
        model = _core.SileroVadModel(tensors)
    except ValueError as error:
        raise ModelError(f"{where}: {error}") from error
    # Finite weights of the right shapes can still overflow (a corrupted file, found by fuzzing): such a
    # network would answer NaN for every chunk and the endpointer would never hear speech, silently.
    probe = _core.SileroVad(model)
    for amplitude in (0.0, 0.5, 1.0):
        chunk = (amplitude * np.sin(np.arange(512, dtype=np.float32) * 0.05)).astype(np.float32)
        p = probe.prob(chunk)
        if not (np.isfinite(p) and 0.0 <= p <= 1.0):
            raise ModelError(f"{where}: not a working Silero VAD model (probability {p} for a test tone)")
    return model


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


@dataclass(frozen=True)
class VadLevelConfig:
    """The VAD's level stage (validated at construction; a bad value raises ValueError).

    enabled: False gives gain 1 throughout. target_peak: the peak (linear full scale) a quiet input is raised
    to. max_gain_db: largest gain (dB). window_s: how long (s) a loud peak holds the gain down. floor: no gain
    while the window's peak is below this (linear; digital silence, dither). max_noise_rms: the noise floor
    (the quietest chunk RMS in the window, digital silence left out) is raised to at most this (linear), so
    noise between words is not made loud enough to pass for speech. Measured in docs/asr.md.
    """

    enabled: bool = True
    target_peak: float = 0.25
    max_gain_db: float = 24.0
    window_s: float = 1.5
    floor: float = 1e-4
    max_noise_rms: float = 1e-3

    def __post_init__(self):
        self.native()

    def native(self) -> _core.VadLevelConfig:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"VadLevelConfig.enabled must be True or False, got {self.enabled!r}")
        config = _core.VadLevelConfig()
        config.enabled = self.enabled
        for name in ("target_peak", "max_gain_db", "window_s", "floor", "max_noise_rms"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise ValueError(f"VadLevelConfig.{name} must be a number, got {value!r}")
            setattr(config, name, float(value))
        config.sample_rate, config.chunk_samples = SAMPLE_RATE, CHUNK_SAMPLES
        config.validate()
        return config


class VadLevel(_core.VadLevel):
    """One stream of the VAD's level stage. ``process(audio)`` -> (what the VAD hears, float32 gain per
    512-sample chunk), chunk by chunk as the front end does it; ``reset()`` starts a new stream."""

    def __init__(self, config: VadLevelConfig | None = None):
        super().__init__((config or VadLevelConfig()).native())


# --- endpointing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointerConfig:
    """Endpointer settings (validated at construction; a bad value raises ValueError).

    threshold / neg_threshold: hysteresis on the speech probability (onset at >= threshold; inside
    speech a chunk below neg_threshold starts a silence, only >= threshold cancels it).
    min_speech_ms: shorter bursts produce no events. min_silence_ms: trailing silence that ends a
    segment. pad_before_ms / pad_after_ms: audio kept around the speech (pad_after_ms <= min_silence_ms).
    max_segment_s: longer segments are split (both sides flagged forced).
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: float = 250.0
    min_silence_ms: float = 300.0
    pad_before_ms: float = 100.0
    pad_after_ms: float = 100.0
    max_segment_s: float = 25.0
    sample_rate: int = SAMPLE_RATE
    chunk_samples: int = CHUNK_SAMPLES

    def __post_init__(self):
        self.native()

    def native(self) -> _core.EndpointerConfig:
        config = _core.EndpointerConfig()
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"EndpointerConfig.{name} must be a number, got {value!r}")
            if name in ("sample_rate", "chunk_samples"):
                if int(value) != value or value <= 0:
                    raise ValueError(f"EndpointerConfig.{name} must be a positive whole number, got {value!r}")
                value = int(value)
            setattr(config, name, value)
        config.validate()
        return config


@dataclass(frozen=True)
class SegmentEvent:
    """A speech segment boundary. kind: "speech_start" or "speech_end"; sample: stream position
    (int, samples since the stream start); forced: True on both sides of a max_segment_s split."""

    kind: str
    sample: int
    forced: bool = False

    @property
    def seconds(self) -> float:
        """Position in seconds at 16 kHz."""
        return self.sample / SAMPLE_RATE


@dataclass(frozen=True)
class Segment:
    """A detected speech segment [start, end) in samples; forced_end: it was cut by max_segment_s."""

    start: int
    end: int
    forced_end: bool = False


class Endpointer:
    """Per-chunk speech probabilities -> :class:`SegmentEvent` s at exact sample positions."""

    def __init__(self, config: EndpointerConfig | None = None):
        self.config = config if config is not None else EndpointerConfig()
        self._native = _core.Endpointer(self.config.native())

    def accept(self, prob: float, num_samples: int | None = None) -> list[SegmentEvent]:
        """Probability of the next chunk (num_samples samples, default chunk_samples)."""
        return [SegmentEvent(*e) for e in self._native.accept(prob, num_samples)]

    def finish(self) -> list[SegmentEvent]:
        """The stream ended: close an open segment."""
        return [SegmentEvent(*e) for e in self._native.finish()]

    def reset(self) -> None:
        self._native.reset()

    @property
    def position(self) -> int:
        return self._native.position

    @property
    def in_segment(self) -> bool:
        return self._native.in_segment


def segments_from_events(events: list[SegmentEvent]) -> list[Segment]:
    """Pairs start/end events into segments (an unpaired start is left out)."""
    segments, start = [], None
    for event in events:
        if event.kind == "speech_start":
            start = event.sample
        elif start is not None:
            segments.append(Segment(start, event.sample, event.forced))
            start = None
    return segments


def endpoint_probabilities(probs, total_samples: int, config: EndpointerConfig | None = None) -> list[SegmentEvent]:
    """Events for a whole stream given its per-chunk probabilities (the last chunk may be partial)."""
    endpointer = Endpointer(config)
    chunk = endpointer.config.chunk_samples
    events = []
    for i, prob in enumerate(np.asarray(probs, np.float32)):
        events += endpointer.accept(float(prob), min(chunk, total_samples - i * chunk))
    return events + endpointer.finish()


def speech_segments(audio, config: EndpointerConfig | None = None, vad: SileroVad | None = None,
                    level: VadLevelConfig | None = None) -> list[Segment]:
    """Offline: speech segments of a whole 16 kHz float recording (VadLevel + SileroVad + Endpointer, as the
    front end computes them)."""
    audio = np.asarray(audio, np.float32)
    heard, _ = VadLevel(level).process(audio)
    probs = (vad if vad is not None else SileroVad()).process(heard)
    return segments_from_events(endpoint_probabilities(probs, len(audio), config))
