"""Wiring: a source through the native front end to the streaming recognizer and the caption outputs.

Threads::

    source thread ──write──▶ FrontEnd.input (RingBuffer) ──▶ front-end worker (C++: [denoise] → VAD →
    endpointer) ──poll()/read_audio()──▶ caption loop (this thread: StreamingRecognizer, CTranslate2
    releases the GIL while it decodes) ──▶ listeners (caption writers, latency tracker, later the voice)

- Live sources (microphone, a file paced in real time, a pipe) are never waited for: under overload the
  loop skips partial decodes (counted) while the lag (audio delivered but not yet taken by the recognizer,
  see rtvoice.pipeline.overload) exceeds ``overload_lag_s``; finals are never skipped. The backlog waits in the front
  end's input ring and audio queue, both bounded; whatever they drop is counted in the stats. The lag is
  announced through ``status`` (behind / caught up) and summarised in ``stats()["overload"]``.
- A file read as fast as possible is flow-controlled instead: the source may run at most
  ``lookahead_s`` ahead of the audio the recognizer has taken, so nothing is dropped and the captions
  are the same however fast the machine is. On a virtual clock the front end's output is also handed over in
  stream order whatever the threads' timing (rtvoice.pipeline.in_order), so the latencies are too.
- :meth:`CaptionPipeline.request_stop` (called from a signal handler) ends the input; everything
  received so far is still recognised, the last segment is closed and the outputs are finalised.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from rtvoice.asr.streaming import CaptionEvent, StreamingConfig, StreamingRecognizer
from rtvoice.asr.whisper import SAMPLE_RATE, WhisperRecognizer
from rtvoice.metrics.clock import CLOCKS, VirtualClock
from rtvoice.errors import RtvoiceError

VIRTUAL_BLOCK = SAMPLE_RATE // 100  # samples: a live source's 10 ms blocks
from rtvoice.metrics.latency import LatencyTracker
from rtvoice.pipeline.in_order import InOrderRelease, report_delay
from rtvoice.pipeline.overload import LagMonitor
from rtvoice.audio.sources import Source


class CaptionListener(Protocol):
    """Anything that takes caption events: writers, the latency tracker, a voice stage."""

    def write(self, event: CaptionEvent) -> None: ...


class CaptionCollector:
    """A caption listener keeping every event (partials and finals) in order."""

    def __init__(self):
        self.events: list[CaptionEvent] = []

    def write(self, event: CaptionEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        """A caption sink is closed at the end of its stage (nothing to release here)."""

    @property
    def finals(self) -> list[CaptionEvent]:
        return [e for e in self.events if e.is_final]


@dataclass(frozen=True)
class PipelineConfig:
    """Caption loop settings (seconds).

    poll_s: longest wait for front-end events before looking at the audio again.
    overload_lag_s: live sources: skip partial decodes while the recognizer lags more than this behind the
        newest audio delivered (s of audio).
    lookahead_s: sources read as fast as possible: how far the source may run ahead of the recognizer.
    """

    poll_s: float = 0.02
    overload_lag_s: float = 1.0
    lookahead_s: float = 8.0
    # "virtual": a file fed as fast as possible, latency accounted as if live; "compute-free": the same with
    # no compute counted (the streaming policy's own latencies, deterministic; rtvoice.metrics.clock)
    clock: str = "real"

    def __post_init__(self):
        if not 0 < self.poll_s <= 1:
            raise ValueError(f"poll_s must be within (0, 1] s, got {self.poll_s}")
        if self.overload_lag_s <= 0:
            raise ValueError(f"overload_lag_s must be > 0, got {self.overload_lag_s}")
        if self.lookahead_s < 1:
            raise ValueError(f"lookahead_s must be >= 1 s, got {self.lookahead_s}")
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {self.clock!r}")


class CaptionPipeline:
    """Source → FrontEnd → StreamingRecognizer → listeners.

    Args:
        source: where the audio comes from (not started yet).
        recognizer: a loaded WhisperRecognizer.
        listeners: objects with ``write(event)`` (caption writers, trackers); called in this thread.
        streaming: streaming policy.
        frontend_config: rtvoice.frontend.front_end.FrontEndConfig (None: defaults).
        config: loop settings.
        status: called with one-line overload messages (fell behind / still behind / caught up), from
            this thread; None: silent (the figures are in stats() either way).
    """

    def __init__(self, source: Source, recognizer: WhisperRecognizer, listeners: list[CaptionListener] = (),
                 streaming: StreamingConfig = StreamingConfig(), frontend_config=None,
                 config: PipelineConfig = PipelineConfig(), status: Callable[[str], None] | None = None):
        from rtvoice.frontend.front_end import FrontEnd, FrontEndConfig

        self.source = source
        self.recognizer = recognizer
        self.config = config
        self.frontend = FrontEnd(frontend_config or FrontEndConfig())
        ep = self.frontend.config.endpointer
        self.virtual_clock = None
        self._in_order = None  # virtual clocks: the front end's output released in stream order
        if config.clock != "real":
            if source.live:
                raise RtvoiceError(f"the {config.clock} clock needs a source read as fast as possible, not a live one")
            self.virtual_clock = VirtualClock(count_compute=config.clock == "virtual")
            self._in_order = InOrderRelease(report_delay(ep), VIRTUAL_BLOCK)
            wall = VirtualClock.capture_time
            self.streaming = StreamingRecognizer(recognizer, streaming, wall_time_of=wall, clock=self.virtual_clock)
        else:
            wall = source.clock.wall_time if source.live else None
            self.streaming = StreamingRecognizer(recognizer, streaming, wall_time_of=wall)
        # Prepared finals: the recognizer follows the VAD's probabilities as the endpointer does.
        self.streaming.follow_speech(ep.threshold, ep.neg_threshold, round(ep.pad_after_ms * SAMPLE_RATE / 1000),
                                     ep.chunk_samples)
        self.latency = LatencyTracker(wall)
        self.listeners = [*listeners, self.latency]
        self._stop = threading.Event()
        self.wall_seconds = 0.0
        self.audio_seconds = 0.0
        self.skipped_for_lag = 0
        self.lag = LagMonitor(config.overload_lag_s, status)
        self._dropped_passed = 0  # front-end audio drops the recognizer has already stepped over

    def request_stop(self) -> None:
        """End the input now (safe from a signal handler); run() then finishes what it has."""
        self._stop.set()

    def _emit(self, events: list[CaptionEvent]) -> None:
        for event in events:
            for listener in self.listeners:
                listener.write(event)

    def _lag(self) -> float:
        """Seconds of a live source's audio delivered but not yet taken by the recognizer (recorded). Audio the
        front end dropped is not waiting: it is left out until the recognizer steps over the gap."""
        dropped_ahead = self.frontend.stats.audio_dropped_samples - self._dropped_passed
        return self.lag.update(self.source.stats.delivered - dropped_ahead, self.streaming.audio_end)

    def _behind(self, waited: float) -> bool:
        """Partial decodes are skipped while a live source's lag exceeds overload_lag_s, either now or before
        the last read (`waited`: the backlog the last decodes let build up)."""
        return self.source.live and max(waited, self._lag()) > self.config.overload_lag_s

    def _feed(self, samples, start: int) -> None:
        """Audio for the recognizer. A live source's audio is only stored (the loop then decodes at the latest
        decode point, after any segment end waiting, or skips it when behind); a file read as fast as
        possible is decoded at every decode point, exactly as it would be live on a fast enough machine."""
        if self.virtual_clock is not None:
            # Feed as it would have arrived: in a live source's 10 ms blocks of the stream, each no earlier than
            # it existed, however the front end happened to hand the audio over (so the clock reads the same
            # in every run).
            offset = 0
            while offset < len(samples):
                block_end = (start + offset) // VIRTUAL_BLOCK * VIRTUAL_BLOCK + VIRTUAL_BLOCK
                piece = samples[offset:block_end - start]
                self.virtual_clock.arrive(block_end / SAMPLE_RATE)
                self.streaming.accept_speech_probabilities(*self._in_order.probabilities_before(block_end))
                self._emit(self.streaming.accept_audio(piece, start + offset, decode=True))
                offset += len(piece)
            return
        self._emit(self.streaming.accept_audio(samples, start, decode=not self.source.live))

    def _take(self, events, start: int, audio) -> None:
        """Hand audio and segment events to the recognizer in stream order."""
        if len(audio) and start > self.streaming.audio_end:  # blocks dropped (counted by the front end)
            self._dropped_passed += start - self.streaming.audio_end
        offset = 0
        for event in events:
            upto = min(len(audio), max(offset, event.sample - start))
            if upto > offset:
                self._feed(audio[offset:upto], start + offset)
                offset = upto
            if event.kind == "speech_start":
                self._emit(self.streaming.start_segment(event.sample))
            elif event.kind == "speech_end":
                if self.virtual_clock is not None and not event.forced:
                    # The end is known once the trailing silence has been heard (pad_after is inside it).
                    ep = self.frontend.config.endpointer
                    heard = event.sample / SAMPLE_RATE + (ep.min_silence_ms - ep.pad_after_ms) / 1000.0
                    self.virtual_clock.arrive(heard)
                self._emit(self.streaming.end_segment(event.sample, forced=event.forced))
        if offset < len(audio):
            self._feed(audio[offset:], start + offset)

    def _step_in_order(self, finishing: bool) -> bool:
        """Virtual clocks: read what the front end queued, hand the recognizer what is known in stream order
        (rtvoice.pipeline.in_order). True once everything is handed over."""
        fe = self.frontend
        everything = finishing and fe.done  # before the reads: all the worker will queue is queued
        events = fe.poll(timeout=None if everything else self.config.poll_s)
        starts, probabilities = fe.read_probabilities()
        events += fe.poll()
        start, audio = fe.read_audio()
        self._in_order.add(events, start, audio, starts, probabilities)
        for group in self._in_order.take(everything):
            self._take(*group)
        return everything

    def run(self) -> dict:
        """Run until the source ends (or request_stop()); returns the stats (see stats())."""
        fe = self.frontend
        started = time.monotonic()
        lookahead = int(self.config.lookahead_s * SAMPLE_RATE)
        if self._in_order is not None:
            lookahead += self._in_order.report_delay  # audio held back is not yet taken
        if not self.source.live:
            self.source.set_limit(lookahead)
        fe.start()
        if self.virtual_clock is not None:
            self.virtual_clock.reset()
        self.source.start(fe.input)
        finishing = False
        try:
            while True:
                if not finishing and (self.source.done or self._stop.is_set()):
                    self.source.stop()
                    self.source.join()
                    fe.finish()
                    finishing = True
                if self._in_order is not None:
                    if self._step_in_order(finishing):
                        break
                    self.source.set_limit(self.streaming.audio_end + lookahead)
                    continue
                events = fe.poll(timeout=self.config.poll_s)
                waited = self._lag() if self.source.live else 0.0  # the backlog built up by the last decodes
                start, audio = fe.read_audio()
                self.streaming.accept_speech_probabilities(*fe.read_probabilities())
                self._take(events, start, audio)
                if not self.source.live:
                    self.source.set_limit(self.streaming.audio_end + lookahead)
                if self.source.live and self.streaming.partial_due():
                    behind = self._behind(waited)
                    self.skipped_for_lag += behind
                    self._emit(self.streaming.partial(decode=not behind))
                if finishing and fe.done and not events and len(audio) == 0:
                    # fe.done is set once the worker has queued its last results: drain once more.
                    events = fe.poll()
                    start, audio = fe.read_audio()
                    self.streaming.accept_speech_probabilities(*fe.read_probabilities())
                    self._take(events, start, audio)
                    if not events and len(audio) == 0:
                        break
            self._emit(self.streaming.finish())
        finally:
            self.source.stop()
            self.source.join(5)
            fe.stop()
            self.wall_seconds = time.monotonic() - started
            self.audio_seconds = self.streaming.audio_end / SAMPLE_RATE
        if self.source.error is not None:
            raise self.source.error
        return self.stats()

    def stats(self) -> dict:
        fe = self.frontend.stats
        streaming = self.streaming.stats.summary()
        streaming["skipped_partials_for_lag"] = self.skipped_for_lag
        fe_config = self.frontend.config
        overload = {**self.lag.summary(),
                    "backlog_capacity_s": round(fe_config.input_capacity_s + fe_config.audio_queue_s, 3),
                    "audio_queue_high_water_s": round(fe.audio_queue_high_water * 512 / SAMPLE_RATE, 3)}
        return {
            "source": {"description": self.source.describe(), "live": self.source.live,
                       **self.source.stats.as_dict()},
            "frontend": {k: getattr(fe, k) for k in fe.__dataclass_fields__},
            "asr": {"model": self.recognizer.model_name, "device": self.recognizer.device,
                    "compute_type": self.recognizer.compute_type, **streaming},
            "latency": self.latency.summary(),
            "overload": overload,
            "audio_seconds": round(self.audio_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
        }


def check_stats_for_losses(stats: dict) -> list[str]:
    """Human-readable lines for everything that was dropped or skipped (empty when nothing was)."""
    lines = []
    source = stats["source"]
    if source.get("dropped"):
        lines.append(f"source: {source['dropped']} samples dropped (front end input full)")
    if source.get("device_overflow"):
        lines.append(f"microphone: {source['device_overflow']} frames dropped (capture ring full)")
    if source.get("device_pauses"):
        lines.append(f"microphone: delivered no audio {source['device_pauses']} times "
                     f"({source['device_pause_seconds']:.2f} s in all; e.g. PulseAudio moved the stream to "
                     f"another source)")
    if source.get("invalid_samples"):
        lines.append(f"source: {source['invalid_samples']} NaN/inf samples replaced by silence")
    if source.get("missing_frames"):
        lines.append(f"source: truncated file: the header says {source['header_frames']} frames, "
                     f"{source['header_frames'] - source['missing_frames']} were read")
    if source.get("format_warning"):
        lines.append(f"source: {source['format_warning']}")
    if source.get("feed_drops"):
        lines.append(f"feed: dropped {source['feed_drops']} time(s), back {source['feed_gaps']} time(s) after gaps of "
                     f"{source['feed_gap_seconds']:.1f} s in all (filled with silence)")
    fe = stats["frontend"]
    for key in ("input_overflow", "audio_dropped_samples", "events_dropped"):
        if fe.get(key):
            lines.append(f"front end: {fe[key]} {key.replace('_', ' ')}")
    # Repaired, but worth knowing (a faulty microphone or converter); a misdeclared raw format explains it already.
    if fe.get("dc_offset_max", 0.0) >= 0.05 and not source.get("format_warning"):
        lines.append(f"front end: a DC offset of up to {fe['dc_offset_max']:.2f} of full scale was removed")
    asr = stats["asr"]
    if asr.get("skipped_partials"):
        lines.append(f"recognizer: {asr['skipped_partials']} partial decodes skipped (behind real time)")
    overload = stats.get("overload", {})
    if overload.get("behind_episodes"):
        lines.append(f"recognizer: behind real time {overload['behind_episodes']} time(s), by up to "
                     f"{overload['lag_s_max']:.1f} s (backlog capacity {overload['backlog_capacity_s']:.0f} s)"
                     + ("; still behind at the end" if overload.get("behind_at_end") else ""))
    return lines


__all__ = ["CaptionCollector", "CaptionPipeline", "PipelineConfig", "CaptionListener", "check_stats_for_losses"]
