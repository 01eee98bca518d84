"""Where synthesised audio goes: the speaker (through the lock-free ring) or a WAV file.

:class:`PlaybackSink` resamples each utterance with ``soxr`` to the device rate on the producer side
and writes it into a C++ :class:`rtvoice.RingBuffer`. The PortAudio callback does one thing: copy
from the ring into the device buffer (what is missing is zero-filled and counted, never waited for). No
allocation, lock or logging happens in the callback, and it records how long it took (``stats()``:
``callback_p50_ms`` ..., see rtvoice.audio.callback_timing). By default the callback is native code only
(:class:`rtvoice._core.PlaybackStream`, rtvoice.audio.native: no Python, no GIL); with
``native_callback=False`` it is a sounddevice callback making one native call (``read_or_silence_into``).

Underruns are counted per utterance: reads that came up short between an utterance's first and last
write (a gap in the voice). Short reads while nothing is being said are just silence.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rtvoice.audio.callback_timing import callback_stats, entry_stats, new_meter
from rtvoice.errors import AudioFormatError, DeviceError
from rtvoice.audio.native import counters_stats, realtime_threads, stream_errors, suggested_latency, use_native
from rtvoice.metrics.percentiles import Reservoir, percentiles


class AudioSink:
    """Receives an engine's audio. Called from the engine's worker thread only.

    ``write`` gets float32 mono samples at the voice's rate and may block (producer side) but must not
    drop audio silently; time spent blocked waiting for room is added to ``wait_s``.
    """

    wait_s: float = 0.0

    def start(self, sample_rate: int) -> None:
        """Called once before the first utterance, with the voice's sample rate (Hz)."""

    def begin(self, utterance) -> None:
        """An utterance starts."""

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        """``samples`` of ``utterance`` starting ``offset`` samples after its start."""
        raise NotImplementedError

    def end(self, utterance) -> None:
        """The utterance's last samples were written."""

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything written was heard/written; False on timeout."""
        return True

    def interrupt(self) -> None:
        """From any thread: stop waiting inside ``write`` and drop audio not yet heard (barge-in)."""

    def close(self) -> None:
        """Release the device or file."""

    def stats(self) -> dict:
        return {}


class WavSink(AudioSink):
    """Writes utterances back to back into a WAV file (16-bit PCM at the voice's rate by default)."""

    def __init__(self, path: Path | str, subtype: str = "PCM_16") -> None:
        self.path = Path(path)
        self.subtype = subtype
        self._file = None
        self.samples = 0

    def start(self, sample_rate: int) -> None:
        import soundfile as sf

        if self._file is not None:
            return
        try:
            self._file = sf.SoundFile(str(self.path), "w", samplerate=sample_rate, channels=1,
                                      format="WAV", subtype=self.subtype)
        except (sf.LibsndfileError, OSError, ValueError) as error:
            raise AudioFormatError(f"cannot write WAV file {self.path}: {error}") from error

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        self._file.write(samples)
        self.samples += len(samples)

    def drain(self, timeout: float | None = None) -> bool:
        if self._file is not None:
            self._file.flush()
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def stats(self) -> dict:
        return {"wav": str(self.path), "wav_samples": self.samples}


class PlaybackSink(AudioSink):
    """Plays through a sounddevice OutputStream fed from a lock-free ring buffer.

    Args:
        device: output device index or name (None: the system default).
        sample_rate: device rate in Hz (None: the device's default rate).
        ring_seconds: ring capacity; the worker runs at most this far ahead of the speaker.
        blocksize: frames per callback (0 lets PortAudio choose).
        latency: PortAudio output latency in seconds (or "low"/"high"); 0.1 s because with "low" a loaded
            2-core machine starved the device (PortAudio underflows) though the ring held audio.
        stall_timeout_s: a device that takes no audio for this long while the ring is full is an error.
        native_callback: run the PortAudio callback in native code only (rtvoice._core.PlaybackStream: no
            Python, no GIL in PortAudio's thread); False: the sounddevice callback ``_callback``. None:
            native when this build has it, unless RTVOICE_NATIVE_CALLBACK=0 (rtvoice.audio.native).
    """

    def __init__(self, device: int | str | None = None, sample_rate: int | None = None,
                 ring_seconds: float = 2.0, blocksize: int = 0, latency: str | float = 0.1,
                 stall_timeout_s: float = 3.0, native_callback: bool | None = None) -> None:
        if ring_seconds <= 0.05:
            raise ValueError(f"ring_seconds must be > 0.05, got {ring_seconds}")
        self.device_spec = device
        self.requested_rate = sample_rate
        self.ring_seconds = ring_seconds
        self.blocksize = blocksize
        self.latency = latency
        self.stall_timeout_s = stall_timeout_s
        self.ring = None
        self.stream = None
        self.device_name = None
        self.rate = None
        self.voice_rate = None
        self._resampler = None
        self._first_underflows = 0
        self._wrote_first = False
        self.underruns = 0
        self.status_flags = 0  # PortAudio callbacks that reported an xrun (set in the callback)
        self._interrupted = False  # write() returns without waiting for space
        self._discard_wanted = self._discard_seen = 0  # callback drops the queue when they differ
        self.meter = new_meter()  # the callback's duration, over every stream this sink opens
        self.native = use_native(native_callback)
        self.entry_meter = new_meter() if self.native else None  # native: from native entry to exit
        self._closed_counters: dict[str, int] = {}  # native: status counts of the streams already closed
        self._realtime = None  # native: the last stream's callback thread ran SCHED_FIFO

    # The callback: one native call (ring read, timed; no allocation, no lock, no logging). On an
    # interrupt that call first drops what is queued (O(1), no copy).
    def _callback(self, outdata, frames, time_info, status) -> None:  # noqa: ARG002 - PortAudio signature
        discard = self._discard_seen != self._discard_wanted
        if discard:
            self._discard_seen = self._discard_wanted
        started = time_info.currentTime if time_info is not None else 0.0  # None: driven by hand, no PortAudio
        self.meter.read_or_silence_into(self.ring, outdata, started, discard)
        if status:
            self.status_flags += 1

    def interrupt(self) -> None:
        self._interrupted = True
        self._discard_wanted += 1
        request = getattr(self.stream, "request_discard", None)  # native stream: its callback drops the queue
        if request is not None:
            request()

    def start(self, sample_rate: int) -> None:
        from rtvoice import RingBuffer

        if self.stream is not None:
            return
        self.voice_rate = sample_rate
        index, self.rate, self.device_name = self._device()
        self.ring = RingBuffer(max(4096, int(self.ring_seconds * self.rate)))
        self.stream = self._open_stream(index)

    def _device(self) -> tuple[int | None, int, str]:
        """(PortAudio index or None for the default, rate in Hz, name) of the output device."""
        from rtvoice.audio.devices import _sounddevice, resolve_device

        sd = _sounddevice()
        index = resolve_device(self.device_spec, "output")
        try:
            info = sd.query_devices(index, "output") if index is not None else sd.query_devices(kind="output")
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(f"no output device available ({error}); use --wav FILE to write audio instead") from error
        return index, int(self.requested_rate or info["default_samplerate"]), info["name"]

    def _open_stream(self, index: int | None):
        """Open and start the PortAudio stream whose callback drains the ring."""
        from rtvoice.audio.devices import _sounddevice

        sd = _sounddevice()
        try:
            if self.native:  # PortAudio's thread runs only C++ (rtvoice.audio.native)
                from rtvoice._core import AudioStreamConfig, PlaybackStream

                info = sd.query_devices(index, "output") if index is not None else sd.query_devices(kind="output")
                config = AudioStreamConfig(device=-1 if index is None else index, channels=1, sample_rate=self.rate,
                                           frames_per_buffer=self.blocksize,
                                           suggested_latency_s=suggested_latency(info, "output", self.latency), realtime=True)
                stream = PlaybackStream(config, self.ring, self.meter, self.entry_meter)
            else:
                stream = sd.OutputStream(samplerate=self.rate, channels=1, dtype="float32", device=index,
                                         blocksize=self.blocksize, latency=self.latency, callback=self._callback)
            stream.start()
            if self.native:
                self._realtime = realtime_threads() > 0
        except stream_errors(sd) as error:
            raise DeviceError(f"cannot open output device {self.device_name!r} at {self.rate} Hz: {error}") from error
        return stream

    def begin(self, utterance) -> None:
        import soxr

        self._resampler = None if self.rate == self.voice_rate else soxr.ResampleStream(
            self.voice_rate, self.rate, 1, dtype="float32", quality="HQ")
        self._wrote_first = False
        self._interrupted = False

    def _push(self, samples: np.ndarray) -> None:
        """Write into the ring, waiting for space (producer side only); never drops audio. Time spent
        waiting is added to ``wait_s``; a device that reads nothing for ``stall_timeout_s`` is an error."""
        ring = self.ring
        pos, n = 0, len(samples)
        last_read, last_progress = ring.frames_read, time.monotonic()
        wait_from = None
        try:
            while pos < n and not self._interrupted:
                space = ring.space
                if space == 0:
                    now = time.monotonic()
                    wait_from = now if wait_from is None else wait_from
                    if ring.frames_read != last_read:
                        last_read, last_progress = ring.frames_read, now
                    elif now - last_progress > self.stall_timeout_s:
                        raise DeviceError(f"output device {self.device_name!r} stopped taking audio")
                    time.sleep(0.002)
                    continue
                pos += ring.write(samples[pos:pos + space])
        finally:
            if wait_from is not None:
                self.wait_s += time.monotonic() - wait_from

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        out = samples if self._resampler is None else self._resampler.resample_chunk(samples)
        if len(out):
            self._push(np.ascontiguousarray(out, dtype=np.float32))
            if not self._wrote_first:
                self._wrote_first = True
                self._first_underflows = self.ring.underflow_reads

    def end(self, utterance) -> None:
        if self._resampler is not None and not self._interrupted:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if len(tail):
                self._push(np.ascontiguousarray(tail, dtype=np.float32))
        if self._wrote_first and not self._interrupted:  # an interrupt's discard reads are not gaps
            gaps = self.ring.underflow_reads - self._first_underflows
            utterance.underruns += gaps
            self.underruns += gaps
        self._resampler = None

    def drain(self, timeout: float | None = None) -> bool:
        if self.ring is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.ring.available > 0:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        latency = float(self.stream.latency) if self.stream is not None else 0.0
        time.sleep(min(latency, 0.5))  # what is in the device's own buffer
        return True

    def close(self) -> None:
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            finally:
                counters = getattr(self.stream, "counters", None)
                if counters is not None:  # native stream: keep its status counts
                    for key, value in counters().items():
                        self._closed_counters[key] = self._closed_counters.get(key, 0) + value
                self.stream = None

    def _native_counters(self) -> dict:
        """Status counts of every native stream this sink opened (the open one included)."""
        total = dict(self._closed_counters)
        counters = getattr(self.stream, "counters", None)
        for key, value in (counters() if counters is not None else {}).items():
            total[key] = total.get(key, 0) + value
        return total

    def stats(self) -> dict:
        if self.ring is None:
            return {}
        out = {"output_rate": self.rate, "output_device": self.device_name,
               "ring_capacity_frames": self.ring.capacity, "ring_overflow_frames": self.ring.overflow_frames,
               "portaudio_xruns": self.status_flags, **callback_stats(self.meter),
               **entry_stats(self.entry_meter, "native" if self.native else "python")}
        if self.native:
            counters = self._native_counters()
            if counters:
                out["portaudio_xruns"] = counters["status_callbacks"]
                out.update(counters_stats(counters, "output", self._realtime))
        return out


def _tag_start(utterance) -> float:
    """Source start (seconds) from an utterance's tag: a number, or an object with ``start_s``/``start``."""
    tag = utterance.tag
    if isinstance(tag, (int, float)):
        return float(tag)
    for name in ("start_s", "start"):
        value = getattr(tag, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    raise ValueError(f"utterance {utterance.id} has no source start (tag {tag!r}); speak(text, tag=seconds)")


class TimelineSink(AudioSink):
    """A dubbed track: each utterance placed on the source timeline in a WAV file.

    An utterance starts at its source start (from ``start_of(utterance)``, default: its tag), or later
    when the previous one is still speaking, or - with ``clock_origin`` (``time.perf_counter()`` at
    source time 0, for live sources) - when its audio was not ready yet. Each placement and its delay
    are recorded in ``placements``. Written as it goes (silence padded up to each placement), so memory
    stays bounded.
    """

    PLACEMENTS_KEPT = 1000

    def __init__(self, path: Path | str, start_of=_tag_start, clock_origin: float | None = None,
                 subtype: str = "PCM_16") -> None:
        self.path = Path(path)
        self.start_of = start_of
        self.clock_origin = clock_origin
        self.subtype = subtype
        self.rate = None
        self._file = None
        self.position = 0  # samples written so far
        self.placements: list[dict] = []  # the first PLACEMENTS_KEPT (delays of all in dub_delay_s)
        self._delays = Reservoir()

    def start(self, sample_rate: int) -> None:
        import soundfile as sf

        if self._file is not None:
            return
        self.rate = sample_rate
        try:
            self._file = sf.SoundFile(str(self.path), "w", samplerate=sample_rate, channels=1,
                                      format="WAV", subtype=self.subtype)
        except (sf.LibsndfileError, OSError, ValueError) as error:
            raise AudioFormatError(f"cannot write WAV file {self.path}: {error}") from error

    def begin(self, utterance) -> None:
        source_s = self.start_of(utterance)
        ready_s = 0.0 if self.clock_origin is None else time.perf_counter() - self.clock_origin
        start = max(int(round(source_s * self.rate)), int(round(ready_s * self.rate)), self.position)
        self._delays.append(start / self.rate - source_s)
        if len(self.placements) < self.PLACEMENTS_KEPT:
            self.placements.append({"id": utterance.id, "source_s": source_s, "placed_s": start / self.rate,
                                    "delay_s": start / self.rate - source_s})
        pad = start - self.position
        while pad > 0:
            n = min(pad, self.rate)
            self._file.write(np.zeros(n, np.float32))
            pad -= n
        self.position = start

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        self._file.write(samples)
        self.position += len(samples)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def stats(self) -> dict:
        return {"dub_track": str(self.path),
                "dub_delay_s": percentiles(self._delays),
                "placements": list(self.placements)}
