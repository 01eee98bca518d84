"""Piper (VITS) voices run by rtvoice's own ONNX Runtime sessions.

A Piper voice is one ONNX graph (text encoder + duration predictor, normalising flow, HiFi-GAN decoder)
and a ``.onnx.json`` config (sample rate, phoneme id map, inference scales, speakers). Run whole, the
graph returns a sentence's audio only when all of it is done. rtvoice cuts the graph into its three
stages with ``onnx.utils.Extractor`` (by the ``/flow/`` and ``/dec/`` scopes every Piper export has):

- encode: phoneme ids -> prior latent ``z_p`` and frame mask (cost grows with the number of phonemes);
- flow:   ``z_p`` -> ``z`` (convolutions over frames: a window of ``flow_context`` frames either side
  reproduces the whole-graph result exactly);
- decode: ``z`` -> audio, ``hop`` samples per frame (convolutions: ``decoder_context`` frames suffice).

Flow and decoder are then run on short windows, so a sentence's first audio comes out after the
encoder plus one small window, and the joined windows equal the whole-graph output (checked at load
on a warm-up phrase; a voice whose graph does not split, or fails the check, is run whole).

Phonemes come from PyPI ``piper-tts`` (espeak-ng as the voices were trained): ``PiperVoice.phonemize``
and ``phonemes_to_ids`` with the voice's own ``phoneme_id_map``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtvoice.errors import ModelError
from rtvoice.tts.providers import ProviderChoice, choose_providers

log = logging.getLogger("rtvoice.tts")

DEFAULT_VOICE = "piper-en_US-joe-medium"
_DEFAULT_VOICE_FILE = "en_US-joe-medium.onnx"
WARMUP_TEXT = "Warming up the voice now."
TARGET_RMS = 0.08  # level of the warm-up phrase after the voice's gain (-22 dBFS; speech peaks near -1 dBFS)
_reported_devices: set[str] = set()
_report_lock = threading.Lock()


@dataclass(frozen=True)
class VoiceOptions:
    """How a voice is loaded and run.

    Args:
        providers: "auto" (CUDA when a GPU and its libraries are present, else CPU), "cpu", "cuda",
            "tensorrt" (opt-in; builds engines at start-up).
        threads: ONNX Runtime intra-op threads; 0 picks 1 on machines with up to 4 CPUs, else CPUs/4 up
            to 4 (measured on 2 shared cores: 1 thread gives lower first-audio latency than 2, and the
            voice shares the machine with recognition).
        spin: let ONNX Runtime's worker threads spin between runs (burns CPU; on a busy machine it made
            first audio 4x slower).
        streaming: run flow and decoder on windows (see module docstring); False runs the graph whole.
        flow_context: frames of context either side of a flow window.
        decoder_context: frames of context either side of a decoder window.
        warmup: run a warm-up phrase at load (first-run allocations, gain calibration, window check).
        memory_arena: ONNX Runtime's CPU memory arena and memory patterns. Off by default: every text has
            its own length, so the arena kept growing in long runs (whole chain, 53 s of speech over and over:
            about 20 MB more resident after 7 passes with it, flat after 3 without; tests/test_soak.py).
    """

    providers: str = "auto"
    threads: int = 0
    spin: bool = False
    streaming: bool = True
    flow_context: int = 32
    decoder_context: int = 16
    warmup: bool = True
    memory_arena: bool = False

    def __post_init__(self) -> None:
        from rtvoice.tts.providers import PREFERENCES

        if self.providers not in PREFERENCES:
            raise ValueError(f"providers must be one of {', '.join(PREFERENCES)}, got {self.providers!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if self.flow_context < 0 or self.decoder_context < 0:
            raise ValueError("flow_context and decoder_context must be >= 0 frames")

    @property
    def resolved_threads(self) -> int:
        cpus = os.cpu_count() or 1
        return self.threads or (1 if cpus <= 4 else min(4, cpus // 4))


@dataclass
class Encoded:
    """Encoder output for one piece of text: what flow and decoder windows are cut from."""

    frames: int  # output frames (audio samples = frames * hop)
    timed: dict  # name -> (1, C, frames) arrays, sliced per window
    static: dict  # name -> arrays without a time axis (speaker embedding), passed whole


@dataclass(frozen=True)
class _Split:
    encode_outputs: list
    flow_inputs: list
    flow_outputs: list  # decoder's time-varying input(s), produced by the flow stage
    decoder_inputs: list
    decoder_output: str


def _resolve_paths(model_path: Path | str | None, config_path: Path | str | None) -> tuple[Path, Path, str]:
    if model_path is None:
        from rtvoice.models import packaged_model

        model = packaged_model(DEFAULT_VOICE)
        onnx_path = model.path(_DEFAULT_VOICE_FILE)
        return onnx_path, model.path(_DEFAULT_VOICE_FILE + ".json"), DEFAULT_VOICE
    onnx_path = Path(model_path).expanduser()
    if not onnx_path.is_file():
        raise ModelError(f"voice file {onnx_path} not found")
    json_path = Path(config_path).expanduser() if config_path else onnx_path.with_name(onnx_path.name + ".json")
    if not json_path.is_file():
        raise ModelError(f"voice config {json_path} not found (a Piper voice is FILE.onnx with FILE.onnx.json beside it)")
    return onnx_path, json_path, onnx_path.stem


def _read_config(json_path: Path):
    from piper.config import PiperConfig

    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"voice config {json_path} is not readable JSON ({error})") from error
    if not isinstance(data, dict):
        raise ModelError(f"voice config {json_path} is not a Piper voice config (not a JSON object)")
    try:
        config = PiperConfig.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"voice config {json_path} is not a Piper voice config (missing or bad {error})") from error
    if not isinstance(config.sample_rate, int) or not 4000 <= config.sample_rate <= 192000:
        raise ModelError(f"voice config {json_path}: bad audio.sample_rate {config.sample_rate!r}")
    if not config.phoneme_id_map:
        raise ModelError(f"voice config {json_path}: empty phoneme_id_map")
    return config, data


def _load_graph(onnx_path: Path):
    import onnx

    try:
        return onnx.load(str(onnx_path))
    except Exception as error:  # noqa: BLE001 - protobuf raises several types for a non-ONNX file
        raise ModelError(f"voice file {onnx_path} is not an ONNX model ({type(error).__name__}: {error})") from error


def _check_match(graph, config, onnx_path: Path, json_path: Path) -> None:
    """The .onnx.json must describe this graph: inputs, speaker count and phoneme table size."""
    inputs = {i.name for i in graph.graph.input}
    missing = {"input", "input_lengths", "scales"} - inputs
    if missing:
        raise ModelError(f"voice file {onnx_path} is not a Piper voice (no input {', '.join(sorted(missing))})")
    if (config.num_speakers > 1) != ("sid" in inputs):
        raise ModelError(
            f"voice config {json_path} does not match {onnx_path}: the config says {config.num_speakers} "
            f"speaker(s) but the model {'takes' if 'sid' in inputs else 'has no'} a speaker input"
        )
    max_id = max((i for ids in config.phoneme_id_map.values() for i in ids), default=-1)
    table = _embedding_rows(graph)
    if table is not None and max_id >= table:
        raise ModelError(
            f"voice config {json_path} does not match {onnx_path}: phoneme id {max_id} but the model "
            f"has {table} phoneme embeddings"
        )
    if table is not None and config.num_symbols != table:
        raise ModelError(
            f"voice config {json_path} does not match {onnx_path}: num_symbols {config.num_symbols}, "
            f"model has {table} phoneme embeddings"
        )


def _embedding_rows(graph) -> int | None:
    """Rows of the phoneme embedding table (the Gather fed by the ``input`` ids), None if not found."""
    inits = {t.name: t for t in graph.graph.initializer}
    for node in graph.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == "input" and node.input[0] in inits:
            return int(inits[node.input[0]].dims[0])
    return None


def _find_split(graph) -> _Split | None:
    """Boundaries between encoder, flow and decoder, found from the exporter's module scopes."""
    nodes = list(graph.graph.node)
    consts = {t.name for t in graph.graph.initializer}
    consts |= {o for n in nodes if n.op_type == "Constant" for o in n.output}
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(i)
    graph_outputs = {o.name for o in graph.graph.output}

    dec = {i for i, n in enumerate(nodes) if n.name.startswith("/dec/")}
    flow = {i for i, n in enumerate(nodes) if n.name.startswith("/flow/")}
    if not dec or not flow:
        return None
    dec_produced = {o for i in dec for o in nodes[i].output if o}
    dec_inputs = list(dict.fromkeys(
        t for i in sorted(dec) for t in nodes[i].input if t and t not in dec_produced and t not in consts))
    dec_outputs = [o for o in dec_produced
                   if o in graph_outputs or any(c not in dec for c in consumers.get(o, []))]
    if len(dec_outputs) != 1 or not dec_inputs:
        return None

    def closure(start: set[int], forward: bool) -> set[int]:
        seen, stack = set(start), list(start)
        while stack:
            i = stack.pop()
            tensors = nodes[i].output if forward else nodes[i].input
            for t in tensors:
                nxt = consumers.get(t, []) if forward else ([producer[t]] if t in producer else [])
                for j in nxt:
                    if j not in seen:
                        seen.add(j)
                        stack.append(j)
        return seen

    ancestors = closure({producer[t] for t in dec_inputs if t in producer}, forward=False)
    region = closure(flow, forward=True) & ancestors
    if not region:
        return None
    region_produced = {o for i in region for o in nodes[i].output if o}
    flow_inputs = list(dict.fromkeys(
        t for i in sorted(region) for t in nodes[i].input if t and t not in region_produced and t not in consts))
    flow_outputs = [t for t in dec_inputs if t in region_produced]
    if not flow_outputs or any(t in {i.name for i in graph.graph.input} for t in flow_outputs):
        return None
    encode_outputs = list(dict.fromkeys(flow_inputs + [t for t in dec_inputs if t not in region_produced]))
    graph_inputs = {i.name for i in graph.graph.input}
    encode_outputs = [t for t in encode_outputs if t not in graph_inputs]
    return _Split(encode_outputs, flow_inputs, flow_outputs, dec_inputs, dec_outputs[0])


def _extract(graph, inputs: list[str], outputs: list[str]):
    import onnx
    from onnx.utils import Extractor

    extractor = Extractor(graph)
    for name in inputs + outputs:
        if name not in extractor.value_infos:
            extractor.value_infos[name] = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
    return extractor.extract_model(inputs, outputs)


class PiperVoiceModel:
    """A Piper voice (``.onnx`` + ``.onnx.json``) with rtvoice's ONNX Runtime sessions.

    Args:
        model_path: the voice's ``.onnx``; None for the default voice (en_US joe, medium).
        config_path: its config; default ``model_path + ".json"``.
        options: how to run it (providers, threads, streaming windows).
    """

    def __init__(self, model_path: Path | str | None = None, config_path: Path | str | None = None,
                 options: VoiceOptions | None = None) -> None:
        self.options = options or VoiceOptions()
        self.model_path, self.config_path, self.name = _resolve_paths(model_path, config_path)
        self.config, self.config_data = _read_config(self.config_path)
        graph = _load_graph(self.model_path)
        _check_match(graph, self.config, self.model_path, self.config_path)
        self.input_names = [i.name for i in graph.graph.input]
        self.provider_choice: ProviderChoice = choose_providers(self.options.providers)
        self._report_device()
        self.split = _find_split(graph) if self.options.streaming else None
        self.hop = int(self.config.hop_length)
        self.gain = 1.0  # calibrated by warm_up(): raw VITS output is quiet (RMS ~0.055, peaks ~0.5)
        self.streaming_check: dict = {}
        self._build_sessions(graph)
        del graph
        from piper import PiperVoice

        # Piper's own text front end (espeak-ng); its session is never used, rtvoice runs the model.
        self._phonemizer = PiperVoice(session=None, config=self.config)
        if self.options.warmup:
            self.warm_up()

    # ---------------------------------------------------------------- properties
    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    @property
    def num_speakers(self) -> int:
        return int(self.config.num_speakers)

    @property
    def device(self) -> str:
        return self.provider_choice.device

    @property
    def streaming(self) -> bool:
        return self.split is not None

    def speaker_id(self, speaker: int | str | None) -> int | None:
        """Speaker index for a name or index (None: the voice's default); None for one-speaker voices."""
        if self.num_speakers <= 1:
            if speaker not in (None, 0, "0"):
                raise ModelError(f"voice {self.name} has one speaker; --speaker {speaker!r} does not apply")
            return None
        if speaker is None:
            return int(self.config.default_speaker_id)
        if isinstance(speaker, str) and not speaker.isdigit():
            if speaker not in self.config.speaker_id_map:
                names = ", ".join(sorted(self.config.speaker_id_map)[:20])
                raise ModelError(f"voice {self.name} has no speaker {speaker!r} (speakers: {names})")
            return int(self.config.speaker_id_map[speaker])
        index = int(speaker)
        if not 0 <= index < self.num_speakers:
            raise ModelError(f"voice {self.name} has speakers 0..{self.num_speakers - 1}, not {index}")
        return index

    # ---------------------------------------------------------------- sessions
    def _session_options(self):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = self.options.resolved_threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # errors only: the provider choice was probed already
        so.enable_cpu_mem_arena = self.options.memory_arena
        so.enable_mem_pattern = self.options.memory_arena
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.options.spin else "0")
        return so

    def _session(self, model_bytes: bytes, what: str):
        import onnxruntime as ort

        try:
            return ort.InferenceSession(model_bytes, sess_options=self._session_options(),
                                        providers=self.provider_choice.providers)
        except Exception as error:  # noqa: BLE001 - ORT raises its own exception types
            raise ModelError(f"voice file {self.model_path}: ONNX Runtime cannot load its {what} ({error})") from error

    def _build_sessions(self, graph) -> None:
        self._encoder = self._flow = self._decoder = self._whole = None
        if self.split is not None:
            try:
                s = self.split
                encoder = _extract(graph, self.input_names, s.encode_outputs)
                flow = _extract(graph, s.flow_inputs, s.flow_outputs)
                decoder = _extract(graph, s.decoder_inputs, [s.decoder_output])
            except Exception as error:  # noqa: BLE001 - any failure means "run the graph whole"
                log.info("voice %s: graph not split (%s); running it whole", self.name, error)
                self.split = None
            else:
                self._encoder = self._session(encoder.SerializeToString(), "encoder")
                self._flow = self._session(flow.SerializeToString(), "flow")
                self._decoder = self._session(decoder.SerializeToString(), "decoder")
                return
        self._whole = self._session(graph.SerializeToString(), "graph")

    def _report_device(self) -> None:
        choice = self.provider_choice
        line = f"voice on {choice.device.upper() if choice.on_gpu else 'CPU'}: {choice.reason}"
        with _report_lock:
            if line in _reported_devices:
                return
            _reported_devices.add(line)
        log.info(line)

    # ---------------------------------------------------------------- text
    def phonemize(self, text: str) -> list[list[str]]:
        """Phonemes per sentence, exactly as piper-tts produces them for this voice."""
        return self._phonemizer.phonemize(text)

    def phoneme_ids(self, phonemes: list[str]) -> tuple[list[int], list[str]]:
        """Model ids for one sentence (or piece) of phonemes, and the phonemes the voice has no id for."""
        from piper.phoneme_ids import phonemes_to_ids

        id_map = self.config.phoneme_id_map
        unknown = [p for p in phonemes if p not in id_map]
        if unknown:
            phonemes = [p for p in phonemes if p in id_map]
        if self.config.phoneme_type.value == "pinyin":
            return self._phonemizer.phonemes_to_ids(phonemes), unknown
        return phonemes_to_ids(phonemes, id_map), unknown

    # ---------------------------------------------------------------- inference
    def _feeds(self, ids: list[int], scales: tuple[float, float, float], sid: int | None) -> dict:
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray(scales, dtype=np.float32),
        }
        if "sid" in self.input_names:
            feeds["sid"] = np.asarray([0 if sid is None else sid], dtype=np.int64)
        return feeds

    def synthesize_whole(self, ids: list[int], scales: tuple[float, float, float], sid: int | None = None) -> np.ndarray:
        """Raw audio (float32, voice rate) for a piece, the whole graph at once (no windows)."""
        if self._whole is not None:
            return self._whole.run(None, self._feeds(ids, scales, sid))[0].reshape(-1).astype(np.float32)
        enc = self.encode(ids, scales, sid)
        z = self.flow_window(enc, 0, enc.frames)
        return self.decode_window(enc, z, 0, enc.frames)

    def encode(self, ids: list[int], scales: tuple[float, float, float], sid: int | None = None) -> Encoded:
        """Run the encoder stage (streaming voices only)."""
        if self._encoder is None:
            raise RuntimeError("encode() needs a streaming voice (graph split into stages)")
        outputs = self._encoder.run(self.split.encode_outputs, self._feeds(ids, scales, sid))
        values = dict(zip(self.split.encode_outputs, outputs))
        frames = int(values[self.split.flow_inputs[0]].shape[-1])
        for name in self.split.flow_inputs:  # the first flow input is z_p; find frames robustly
            v = values[name]
            if v.ndim == 3 and v.shape[1] > 1:
                frames = int(v.shape[-1])
                break
        timed = {k: v for k, v in values.items() if v.ndim == 3 and v.shape[-1] == frames}
        static = {k: v for k, v in values.items() if k not in timed}
        return Encoded(frames, timed, static)

    def flow_window(self, enc: Encoded, start: int, stop: int) -> np.ndarray:
        """``z`` for frames [start, stop), computed on a window with ``flow_context`` frames either side."""
        ctx = self.options.flow_context
        lo, hi = max(0, start - ctx), min(enc.frames, stop + ctx)
        feeds = {}
        for name in self.split.flow_inputs:
            if name in enc.timed:
                feeds[name] = np.ascontiguousarray(enc.timed[name][:, :, lo:hi])
            else:
                feeds[name] = enc.static[name]
        z = self._flow.run(self.split.flow_outputs[:1], feeds)[0]
        return z[:, :, start - lo:stop - lo]

    def decode_window(self, enc: Encoded, z: np.ndarray, start: int, stop: int, z_offset: int = 0) -> np.ndarray:
        """Audio for frames [start, stop) from ``z`` (which holds frames from ``z_offset`` on)."""
        ctx = self.options.decoder_context
        lo, hi = max(0, start - ctx), min(enc.frames, stop + ctx)
        if lo < z_offset or hi > z_offset + z.shape[-1]:
            raise ValueError(f"decoder window [{lo}, {hi}) needs z frames not computed yet")
        feeds = {}
        for name in self.split.decoder_inputs:
            if name in self.split.flow_outputs:
                feeds[name] = np.ascontiguousarray(z[:, :, lo - z_offset:hi - z_offset])
            elif name in enc.timed:
                feeds[name] = np.ascontiguousarray(enc.timed[name][:, :, lo:hi])
            else:
                feeds[name] = enc.static[name]
        audio = self._decoder.run(None, feeds)[0].reshape(-1)
        hop = audio.shape[0] // max(1, hi - lo)
        return audio[(start - lo) * hop:(stop - lo) * hop].astype(np.float32, copy=False)

    # ---------------------------------------------------------------- warm-up
    def warm_up(self) -> None:
        """First runs (allocations), gain calibration and, for streaming voices, the window check."""
        sentences = self.phonemize(WARMUP_TEXT)
        if not sentences:
            return
        ids, _ = self.phoneme_ids(sentences[0])
        scales = (0.0, float(self.config.length_scale), 0.0)  # deterministic
        sid = self.speaker_id(None)
        whole = self.synthesize_whole(ids, scales, sid)
        rms = float(np.sqrt(np.mean(whole.astype(np.float64) ** 2))) if whole.size else 0.0
        self.gain = float(np.clip(TARGET_RMS / rms, 1.0, 4.0)) if rms > 1e-5 else 1.0
        if self.split is None:
            return
        enc = self.encode(ids, scales, sid)
        step = max(8, enc.frames // 3)  # three windows: the middle one has context cut on both sides
        bounds = [(a, min(enc.frames, a + step)) for a in range(0, enc.frames, step)]
        z = np.concatenate([self.flow_window(enc, a, b) for a, b in bounds], axis=2)
        windowed = np.concatenate([self.decode_window(enc, z, a, b) for a, b in bounds])
        diff = float(np.max(np.abs(windowed - whole))) if len(windowed) == len(whole) else float("inf")
        self.streaming_check = {"frames": enc.frames, "max_abs_diff": diff}
        if not diff <= 1e-3:
            log.warning("voice %s: windowed synthesis differs from the whole graph (max %.3g); running it whole",
                        self.name, diff)
            self.split = None
            self._whole = self._session(_load_graph(self.model_path).SerializeToString(), "graph")


def load_voice(voice: Path | str | None = None, options: VoiceOptions | None = None) -> PiperVoiceModel:
    """The default voice (None) or a Piper ``.onnx`` file with its ``.onnx.json`` beside it."""
    return PiperVoiceModel(voice, None, options)
