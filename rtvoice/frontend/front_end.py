"""The front end: live 16 kHz mono audio in; clean audio, speech probabilities and segment events out.

A C++ worker thread reads the input ring buffer, runs [DC blocker] -> [denoise] -> Silero VAD
(512-sample chunks, 32 ms) -> endpointer, and queues its results. Python only collects them; nothing
here runs per sample.

API (what the ASR stage consumes)::

    fe = FrontEnd(FrontEndConfig())            # validated at construction (ValueError)
    fe.start()
    # a source writes float32 16 kHz mono samples into fe.input (a RingBuffer): an audio callback
    # calls fe.input.write(block) and never waits; a file reader may wait for fe.input.space.
    events = fe.poll()                          # non-blocking: list[SegmentEvent], maybe empty
    events = fe.poll(timeout=0.1)               # blocks up to 0.1 s (GIL released) for events
    start, audio = fe.read_audio()              # contiguous clean audio queued so far
    samples, probs = fe.read_probabilities()    # per-chunk speech probability (chunk start samples)
    fe.finish()                                 # the input ended: tail processed, open segment closed
    fe.stop()                                   # finish() + wait until everything is processed + join
    fe.done                                     # True once all input after finish() is processed
    fe.stats                                    # FrontEndStats: counters, drops, queue high-water marks

- :class:`SegmentEvent` (``rtvoice.frontend.vad.SegmentEvent``): ``kind`` is ``"speech_start"`` or
  ``"speech_end"``, ``sample`` the int position in the input stream (0 = first sample written),
  ``forced`` True on both sides of a split made because a segment reached ``max_segment_s``. Starts
  are reported once ``min_speech_ms`` of speech has been heard but carry the earlier exact position
  (onset minus ``pad_before_ms``); ends are reported after ``min_silence_ms`` of trailing silence at
  the last speech plus ``pad_after_ms``. Starts and ends alternate.
- ``read_audio()`` returns ``(start_sample, float32 array)``: every processed sample exactly once, in
  order. Sample positions match the events' (with the denoiser, clean sample i is the enhanced input
  sample i). If the consumer fell behind and audio blocks were dropped, a call stops at the gap and
  the next call starts after it (``start_sample`` jumps); drops are counted in ``stats``.
- The DC blocker (``dc_block=True``, the default; see rtvoice.frontend.dc_blocker) removes a constant offset
  before anything else: the clean stream is ``dc_block(input)``. ``stats.dc_offset_max`` is the largest
  offset it removed (smoothed over about 0.5 s, in sample units).
- Every queue is bounded; nothing is dropped silently: see ``stats.input_overflow`` (the source wrote
  faster than the worker read), ``audio_dropped_samples``, ``probs_dropped``, ``events_dropped``, and
  the ``*_high_water`` marks. ``busy_seconds`` is the worker's processing time.
- Writes after ``finish()`` are ignored. Dropping a FrontEnd without ``stop()`` abandons unprocessed
  input and joins the worker. Also usable as a context manager (start / stop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from rtvoice import _core
from rtvoice.frontend.vad import (CHUNK_SAMPLES, SAMPLE_RATE, EndpointerConfig, SegmentEvent, VadLevelConfig,
                                  load_silero_model)

__all__ = ["FrontEnd", "FrontEndConfig", "FrontEndStats", "SegmentEvent", "EndpointerConfig", "VadLevelConfig"]


@dataclass(frozen=True)
class FrontEndConfig:
    """Front-end settings; validated at construction (ValueError names the bad field).

    input_capacity_s: input ring size (s). audio_queue_s: clean audio the consumer may fall behind by
    before blocks are dropped (s). prob_queue / event_queue: capacities in items. idle_sleep_ms: how
    long the worker sleeps while less than one chunk is waiting. denoise: run rtvoice's denoiser before
    the VAD (default settings). dc_block: remove a DC offset first (a one-pole high-pass at
    dc_cutoff_hz, Hz); with an offset of 0.3 the VAD would hear no speech.
    vad_level: the gain on the VAD's copy of the audio (a quiet speaker after a loud one; the clean stream
    is not changed). endpointer: segmenting rules.
    """

    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    vad_level: VadLevelConfig = field(default_factory=VadLevelConfig)
    denoise: bool = False
    dc_block: bool = True
    dc_cutoff_hz: float = 10.0
    input_capacity_s: float = 4.0
    audio_queue_s: float = 32.0
    prob_queue: int = 4096
    event_queue: int = 256
    idle_sleep_ms: float = 2.0
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self):
        self.native()

    def native(self) -> _core.FrontEndConfig:
        if not isinstance(self.endpointer, EndpointerConfig):
            raise ValueError(f"FrontEndConfig.endpointer must be an EndpointerConfig, got {self.endpointer!r}")
        for name in ("denoise", "dc_block"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"FrontEndConfig.{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("dc_cutoff_hz", "input_capacity_s", "audio_queue_s", "idle_sleep_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"FrontEndConfig.{name} must be a positive number, got {value!r}")
        for name in ("prob_queue", "event_queue", "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"FrontEndConfig.{name} must be a positive int, got {value!r}")
        config = _core.FrontEndConfig()
        config.sample_rate = self.sample_rate
        config.input_capacity_samples = max(1, math.ceil(self.input_capacity_s * self.sample_rate))
        config.denoise = self.denoise
        config.dc_block = self.dc_block
        config.dc_blocker.sample_rate = self.sample_rate
        config.dc_blocker.cutoff_hz = float(self.dc_cutoff_hz)
        if not isinstance(self.vad_level, VadLevelConfig):
            raise ValueError(f"FrontEndConfig.vad_level must be a VadLevelConfig, got {self.vad_level!r}")
        config.vad_level = self.vad_level.native()
        config.endpointer = self.endpointer.native()
        config.audio_queue_blocks = max(1, math.ceil(self.audio_queue_s * self.sample_rate / CHUNK_SAMPLES))
        config.prob_queue_capacity = self.prob_queue
        config.event_queue_capacity = self.event_queue
        config.idle_sleep_ms = float(self.idle_sleep_ms)
        config.validate()
        return config


@dataclass(frozen=True)
class FrontEndStats:
    """Counters of a front end (samples unless named otherwise)."""

    samples_in: int
    input_overflow: int
    nonfinite_samples: int
    dc_offset_max: float
    vad_gain_max_db: float  # largest gain the VAD's level stage applied (dB)
    vad_raised_chunks: int  # chunks the VAD heard raised
    chunks: int
    audio_dropped_blocks: int
    audio_dropped_samples: int
    probs_dropped: int
    events_dropped: int
    events_emitted: int
    audio_queue_high_water: int
    prob_queue_high_water: int
    event_queue_high_water: int
    input_high_water: int
    busy_seconds: float

    @property
    def dropped(self) -> int:
        """Everything lost anywhere: input overflow, audio samples, probabilities, events."""
        return self.input_overflow + self.audio_dropped_samples + self.probs_dropped + self.events_dropped


class FrontEnd:
    """Python face of the native front end (see the module docstring for the full API).

    Args:
        config: FrontEndConfig (default settings if None).
        model: a SileroVadModel; default: the packaged Silero VAD (loaded once, shared).
    """

    def __init__(self, config: FrontEndConfig | None = None, model: _core.SileroVadModel | None = None):
        self.config = config if config is not None else FrontEndConfig()
        self._native = _core.FrontEnd(self.config.native(), model if model is not None else load_silero_model())

    @property
    def input(self) -> _core.RingBuffer:
        """The RingBuffer (16 kHz mono float32) a source writes into."""
        return self._native.input

    @property
    def denoiser_latency_samples(self) -> int:
        """The denoiser's delay the worker removes (0 without denoiser): positions need no correction."""
        return self._native.denoiser_latency_samples

    def start(self) -> None:
        """Launch the worker thread."""
        self._native.start()

    def finish(self) -> None:
        """The input ended: the worker processes the rest, closes an open segment, then is done."""
        self._native.finish()

    def stop(self) -> None:
        """finish(), wait until all input is processed, join the worker (GIL released)."""
        self._native.stop()
        if self._native.error:
            raise RuntimeError(f"front-end worker failed: {self._native.error}")

    @property
    def done(self) -> bool:
        """All input written before finish() has been processed."""
        return self._native.done

    @property
    def started(self) -> bool:
        return self._native.started

    def poll(self, timeout: float | None = None) -> list[SegmentEvent]:
        """Segment events queued so far. timeout None: never blocks; else waits up to `timeout`
        seconds (GIL released) for at least one event, returning early when the front end is done."""
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
                raise ValueError(f"timeout must be None or seconds >= 0, got {timeout!r}")
            self._native.wait_for_events(float(timeout))
        return [SegmentEvent(kind, sample, forced) for kind, sample, forced in self._native.pop_events()]

    def read_audio(self) -> tuple[int, np.ndarray]:
        """(start_sample, float32 array) of the contiguous clean audio queued so far (may be empty)."""
        return self._native.read_audio()

    def read_probabilities(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk start samples int64, speech probabilities float32) queued so far."""
        return self._native.read_probabilities()

    @property
    def stats(self) -> FrontEndStats:
        values = self._native.stats
        return FrontEndStats(**{f.name: values[f.name] for f in fields(FrontEndStats)})

    def __enter__(self) -> FrontEnd:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
