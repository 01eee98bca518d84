"""Audio sources: microphone, audio file, raw PCM on standard input.

Every source delivers 16 kHz mono float32 into a :class:`rtvoice.RingBuffer` it is given (the front end's
input), from a worker thread of its own, whatever the device's or file's rate and channel count:
channels are averaged, the rate is converted with soxr's streaming resampler.

- :class:`MicSource`: a sounddevice ``InputStream`` whose callback does one thing, one native call: it
  writes the block into a ring buffer at the device's rate and channel count, and records how long the
  callback took (``stats.as_dict()``: ``callback_p50_ms`` ... , see rtvoice.callback_timing). The worker reads that ring,
  converts, and writes on. Audio that does not fit in either ring is counted, never waited for.
- :class:`FileSource`: anything libsndfile reads. ``realtime=True`` paces it like a live source (each
  10 ms block is written when it would have been captured, and what does not fit is dropped and counted
  as it would be live); otherwise it runs as fast as the consumer takes it (the writer waits for space).
- :class:`StdinSource`: raw PCM (s16le, s32le or f32le) at a declared rate and channel count, read from a
  binary stream (standard input by default); the writer waits for space, so a pipe is paced by its reader
  (or, ``live=True``, by its producer).

Each source has a :class:`StreamClock` mapping a 16 kHz sample index to the wall-clock time (time.time())
at which that sample was captured, for latency figures.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rtvoice.callback_timing import callback_stats, new_meter
from rtvoice.errors import AudioFormatError, DeviceError, RtvoiceError

SAMPLE_RATE = 16000  # Hz, what every source delivers
RAW_FORMATS = {"s16le": ("<i2", 1 / 32768.0), "s32le": ("<i4", 1 / 2147483648.0), "f32le": ("<f4", 1.0)}


class StreamClock:
    """Wall-clock capture time of stream sample n: ``anchor + n / rate``.

    A source that knows when it started (a paced file) sets the anchor; a live source calls
    :meth:`observe` each time it has handed over `n` samples: sample n-1 was captured no later than now, so
    ``now - n / rate`` bounds the anchor from above and the smallest bound seen is kept (it approaches the
    true anchor from above by the capture buffering delay, a few milliseconds).
    """

    def __init__(self, rate: int = SAMPLE_RATE):
        self.rate = rate
        self.anchor: float | None = None

    def set_anchor(self, wall: float) -> None:
        self.anchor = wall

    def observe(self, samples_total: int, wall: float | None = None) -> None:
        bound = (time.time() if wall is None else wall) - samples_total / self.rate
        if self.anchor is None or bound < self.anchor:
            self.anchor = bound

    def wall_time(self, sample: int) -> float | None:
        return None if self.anchor is None else self.anchor + sample / self.rate


class _Converter:
    """Downmix to mono and resample to 16 kHz, block by block (soxr streaming, no clicks between blocks)."""

    def __init__(self, rate: float, channels: int):
        if not rate or rate <= 0 or not np.isfinite(rate):
            raise AudioFormatError(f"invalid sample rate {rate!r}")
        if channels < 1:
            raise AudioFormatError(f"invalid channel count {channels}")
        self.rate = rate
        self.channels = channels
        self._stream = None
        if rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 2:
            block = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
        if self._stream is None:
            return np.ascontiguousarray(block)
        return np.ascontiguousarray(self._stream.resample_chunk(block, last=last), dtype=np.float32)


@dataclass
class SourceStats:
    input_frames: int = 0  # frames read from the device / file / stream, at its own rate
    delivered: int = 0  # 16 kHz samples written into the output ring
    dropped: int = 0  # 16 kHz samples the output ring refused (consumer too slow)
    device_overflow: int = 0  # device frames the callback's ring refused (worker too slow)
    invalid_samples: int = 0  # NaN/inf in float input, replaced by 0
    trailing_bytes: int = 0  # bytes of an incomplete frame at the end of raw input

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _MicStats(SourceStats):
    """SourceStats plus the capture callback's duration figures (callback_p50_ms, ...)."""

    def __init__(self, meter):
        super().__init__()
        self.meter = meter

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "meter"}
        out.update(callback_stats(self.meter))
        return out


class Source:
    """Base: a worker thread that writes 16 kHz mono float32 into `out` until the input ends or stop()."""

    name = "source"
    live = False  # audio arrives at the pace it is captured (latency figures mean something)

    def __init__(self):
        self.clock = StreamClock()
        self.stats = SourceStats()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._out = None
        self._limit: int | None = None

    def set_limit(self, samples: int | None) -> None:
        """Flow control for sources that may wait (a file read as fast as possible, a pipe): deliver at most
        `samples` samples in all until the limit is raised (None: no limit). Live delivery ignores it."""
        self._limit = samples

    def describe(self) -> str:
        return self.name

    def start(self, out) -> None:
        """Start writing into `out` (a mono RingBuffer)."""
        if self._thread is not None:
            raise RtvoiceError(f"{self.describe()} already started")
        if out.channels != 1:
            raise ValueError("the output ring buffer must be mono")
        self._out = out
        self._thread = threading.Thread(target=self._run_guarded, name=f"rtvoice-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the worker to stop (idempotent); the audio read so far is still delivered."""
        self._stop.set()

    def close(self) -> None:
        """Release the file or device of a source that was never started."""
        if self._thread is None:
            self._close()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def done(self) -> bool:
        """All the audio this source will deliver is in the output ring (or it failed)."""
        return self._done.is_set()

    def wait_done(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as error:  # reported by the engine, not lost in a thread
            self.error = error if isinstance(error, RtvoiceError) else RtvoiceError(
                f"{self.describe()}: {type(error).__name__}: {error}")
        finally:
            self._close()
            self._done.set()

    def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _deliver(self, samples: np.ndarray, wait: bool) -> None:
        """Write 16 kHz samples into the output ring; wait for space if `wait`, else count what is dropped."""
        if len(samples) == 0:
            return
        if not np.all(np.isfinite(samples)):
            bad = ~np.isfinite(samples)
            self.stats.invalid_samples += int(bad.sum())
            samples = np.where(bad, np.float32(0), samples).astype(np.float32)
        out = self._out
        if wait:
            offset = 0
            while offset < len(samples):
                space = out.space
                limit = self._limit
                if limit is not None:
                    space = min(space, max(0, limit - self.stats.delivered))
                if space == 0:
                    if self._stop.is_set():
                        self.stats.dropped += len(samples) - offset
                        return
                    time.sleep(0.002)
                    continue
                written = out.write(samples[offset:offset + space])
                offset += written
                self.stats.delivered += written
        else:
            written = out.write(samples)
            self.stats.delivered += written
            self.stats.dropped += len(samples) - written


class FileSource(Source):
    """An audio file (WAV, FLAC, OGG, ... anything libsndfile reads), any rate and channel count.

    Args:
        path: the file.
        realtime: pace it like a live source (10 ms blocks when they would have been captured).
        block_s: block length in seconds.
    """

    name = "file"

    def __init__(self, path: str | Path, realtime: bool = False, block_s: float = 0.01):
        super().__init__()
        import soundfile as sf

        self.path = Path(path)
        self.realtime = realtime
        self.live = realtime
        if block_s <= 0:
            raise ValueError(f"block_s must be > 0, got {block_s}")
        if not self.path.is_file():
            raise AudioFormatError(f"{self.path}: no such file")
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
            raise AudioFormatError(f"{self.path}: not a readable audio file ({_sf_reason(error)})") from error
        if self._file.frames == 0:
            self._file.close()
            raise AudioFormatError(f"{self.path}: the file holds no audio")
        self.rate = self._file.samplerate
        self.channels = self._file.channels
        self.duration_s = self._file.frames / self.rate
        self._block = max(1, int(round(block_s * self.rate)))
        self._convert = _Converter(self.rate, self.channels)

    def describe(self) -> str:
        return (f"file {self.path.name} ({self.duration_s:.2f} s, {self.rate} Hz, {self.channels} ch, "
                f"{'real time' if self.realtime else 'as fast as possible'})")

    def _run(self) -> None:
        import soundfile as sf

        t0 = time.time()
        if self.realtime:
            self.clock.set_anchor(t0)
        read = 0
        while not self._stop.is_set():
            try:
                block = self._file.read(self._block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as error:
                raise AudioFormatError(f"{self.path}: read failed after {read} frames ({_sf_reason(error)})")
            last = len(block) < self._block
            read += len(block)
            self.stats.input_frames = read
            if self.realtime:
                delay = t0 + read / self.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            self._deliver(self._convert(block, last=last), wait=not self.realtime)
            if last:
                break

    def _close(self) -> None:
        self._file.close()


class StdinSource(Source):
    """Raw interleaved PCM from a binary stream (standard input by default).

    Args:
        fmt: "s16le", "s32le" or "f32le".
        rate: sample rate in Hz.
        channels: interleaved channels.
        stream: binary stream to read (default sys.stdin.buffer).
        block_s: read size in seconds of audio.
        live: the stream arrives at the pace it is captured (its clock is observed from arrival times).
    """

    name = "stdin"

    def __init__(self, fmt: str = "s16le", rate: int = SAMPLE_RATE, channels: int = 1,
                 stream: BinaryIO | None = None, block_s: float = 0.02, live: bool = False):
        super().__init__()
        if fmt not in RAW_FORMATS:
            raise AudioFormatError(f"unknown raw format {fmt!r} (use one of {', '.join(RAW_FORMATS)})")
        if not isinstance(rate, int) or not 1000 <= rate <= 768000:
            raise AudioFormatError(f"--rate must be a whole number of Hz between 1000 and 768000, got {rate!r}")
        if not isinstance(channels, int) or not 1 <= channels <= 64:
            raise AudioFormatError(f"--channels must be between 1 and 64, got {channels!r}")
        self.fmt, self.rate, self.channels = fmt, rate, channels
        self._dtype, self._scale = RAW_FORMATS[fmt]
        self._frame_bytes = np.dtype(self._dtype).itemsize * channels
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._block_bytes = max(1, int(block_s * rate)) * self._frame_bytes
        self._convert = _Converter(rate, channels)
        # live: the producer paces the stream (ffmpeg -re, a broadcast router): latency figures are measured
        # and partial decodes are skipped when behind. Otherwise the pipe is read as fast as it is consumed.
        self.live = live

    def describe(self) -> str:
        return f"standard input ({self.fmt}, {self.rate} Hz, {self.channels} ch)"

    def _run(self) -> None:
        pending = b""
        total = 0
        while not self._stop.is_set():
            chunk = self._stream.read1(self._block_bytes) if hasattr(self._stream, "read1") else \
                self._stream.read(self._block_bytes)
            if not chunk:
                break
            data = pending + chunk
            usable = len(data) - len(data) % self._frame_bytes
            pending = data[usable:]
            if usable == 0:
                continue
            frames = np.frombuffer(data[:usable], dtype=self._dtype).reshape(-1, self.channels)
            samples = frames.astype(np.float32) * np.float32(self._scale)
            total += len(frames)
            self.stats.input_frames = total
            converted = self._convert(samples)
            self._deliver(converted, wait=True)
            if self.live:
                self.clock.observe(total * SAMPLE_RATE // self.rate)
        self.stats.trailing_bytes = len(pending)
        if total == 0:
            raise AudioFormatError(f"no audio on {self.describe()}"
                                   + (f" ({len(pending)} bytes, less than one frame)" if pending else ""))
        self._deliver(self._convert(np.zeros((0, self.channels), np.float32), last=True), wait=True)


class MicSource(Source):
    """A microphone (any PortAudio input device, by name or index), any rate and channel count.

    Args:
        device: name (case-insensitive substring) or index; None for the default input.
        channels: channels to capture (None: up to 2 of the device's), averaged to mono.
        samplerate: capture rate (None: the device's default rate).
        blocksize: frames per callback (0: PortAudio's choice).
        ring_seconds: capacity of the callback's ring buffer.
    """

    name = "mic"
    live = True

    def __init__(self, device: str | int | None = None, channels: int | None = None,
                 samplerate: float | None = None, blocksize: int = 0, ring_seconds: float = 2.0):
        super().__init__()
        from rtvoice import RingBuffer
        from rtvoice.devices import _sounddevice, resolve_device

        sd = _sounddevice()
        self.device = resolve_device(device, "input")
        try:
            info = sd.query_devices(self.device, "input")
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(f"no usable input device ({error})") from error
        self.device_name = info["name"]
        self.channels = channels or min(2, int(info["max_input_channels"]))
        if self.channels < 1 or self.channels > info["max_input_channels"]:
            raise DeviceError(f"input device {self.device_name!r} has {info['max_input_channels']} channels, "
                              f"asked for {self.channels}")
        self.rate = float(samplerate or info["default_samplerate"])
        self._ring = RingBuffer(int(self.rate * ring_seconds), self.channels)
        self._convert = _Converter(self.rate, self.channels)
        self.stats = _MicStats(new_meter())  # the callback's duration (rtvoice.callback_timing)
        write, ring = self.stats.meter.write, self._ring

        def callback(indata, frames, time_info, status):  # PortAudio thread: one native call, nothing else
            write(ring, indata, time_info.currentTime)  # ring.write(indata), timed

        try:
            self._stream = sd.InputStream(device=self.device, channels=self.channels, samplerate=self.rate,
                                          dtype="float32", blocksize=blocksize, latency="low", callback=callback)
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(f"cannot open input device {self.device_name!r} at {self.rate:.0f} Hz, "
                              f"{self.channels} ch: {error}") from error
        self._sd = sd

    def describe(self) -> str:
        return f"microphone {self.device_name!r} ({self.rate:.0f} Hz, {self.channels} ch)"

    def _run(self) -> None:
        chunk = max(1, int(self.rate * 0.01))
        buffer = np.zeros((int(self.rate * 0.2), self.channels), dtype=np.float32)
        total = 0
        try:
            self._stream.start()
        except self._sd.PortAudioError as error:
            raise DeviceError(f"cannot start input device {self.device_name!r}: {error}") from error
        stopping = False
        while True:
            if not stopping and self._stop.is_set():
                stopping = True
                self._stream.stop()  # returns once the last callback has run
            n = self._ring.read_into(buffer) if self._ring.available >= chunk or stopping else 0
            if n:
                total += n
                self.stats.input_frames = total
                self.clock.observe(int(total * SAMPLE_RATE / self.rate))
                self._deliver(self._convert(buffer[:n]), wait=False)
            elif stopping:
                break
            else:
                if not self._stream.active:
                    raise DeviceError(f"input device {self.device_name!r} stopped delivering audio")
                time.sleep(0.005)
        self._deliver(self._convert(np.zeros((0, self.channels), np.float32), last=True), wait=False)
        self.stats.device_overflow = self._ring.overflow_frames

    def _close(self) -> None:
        try:
            self._stream.close()
        except self._sd.PortAudioError:
            pass


def _sf_reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return text[:200]
