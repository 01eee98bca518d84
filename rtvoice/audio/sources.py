"""Audio sources: microphone, audio file, raw PCM on standard input.

Every source delivers 16 kHz mono float32 into a :class:`rtvoice.RingBuffer` it is given (the front end's
input), from a worker thread of its own, whatever the device's or file's rate and channel count:
channels are averaged, the rate is converted with soxr's streaming resampler.

- :class:`MicSource`: a PortAudio input stream whose callback does one thing: it writes the block into a
  ring buffer at the device's rate and channel count, and records how long the callback took
  (``stats.as_dict()``: ``callback_p50_ms`` ... , see rtvoice.audio.callback_timing). By default the callback is
  native code only (:class:`rtvoice._core.CaptureStream`, rtvoice.audio.native: no Python, no GIL); with
  ``native_callback=False`` it is a sounddevice callback making one native call. The worker reads that
  ring, converts, and writes on. Audio that does not fit in either ring is counted, never waited for.
- :class:`FileSource`: anything libsndfile reads, else the first audio track of anything FFmpeg reads (a
  video programme: MPEG-TS, MP4, ...), decoded by an ``ffmpeg`` child into memory. ``realtime=True`` paces
  it like a live source (each 10 ms block is written when it would have been captured, and what does not
  fit is dropped and counted as it would be live); otherwise it runs as fast as the consumer takes it (the
  writer waits for space).
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

from rtvoice.audio.callback_timing import callback_stats, entry_stats, new_meter
from rtvoice.errors import AudioFormatError, DeviceError, DeviceLostError, RtvoiceError
from rtvoice.audio.native import counters_stats, realtime_threads, stream_errors, suggested_latency, use_native

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


StreamConverter = _Converter  # the public name, for sources outside this module (rtvoice.server)


@dataclass
class SourceStats:
    input_frames: int = 0  # frames read from the device / file / stream, at its own rate
    delivered: int = 0  # 16 kHz samples written into the output ring
    dropped: int = 0  # 16 kHz samples the output ring refused (consumer too slow)
    device_overflow: int = 0  # device frames the callback's ring refused (worker too slow)
    invalid_samples: int = 0  # NaN/inf in float input, replaced by 0
    trailing_bytes: int = 0  # bytes of an incomplete frame at the end of raw input
    device_pauses: int = 0  # times a live device delivered nothing for > 0.25 s and then went on
    device_pause_seconds: float = 0.0  # the time those pauses lasted, in all
    header_frames: int = 0  # frames a WAV header declares (0: not a WAV, or a streamed one with no size)
    missing_frames: int = 0  # header_frames the file did not hold (a truncated WAV; what exists is read)
    format_warning: str = ""  # raw input whose samples do not look like the declared format (see StdinSource)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _MicStats(SourceStats):
    """SourceStats plus the capture callback's duration figures (callback_p50_ms, ...)."""

    def __init__(self, meter, entry_meter=None, stream=None):
        super().__init__()
        self.meter = meter
        self.entry_meter = entry_meter  # native callbacks: from native entry to exit
        self.stream = stream  # native callbacks: the CaptureStream (its PortAudio status counts)
        self.realtime = None  # native callbacks: a SCHED_FIFO thread ran once the stream had started

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k not in ("meter", "entry_meter", "stream", "realtime")}
        out.update(callback_stats(self.meter))
        out.update(entry_stats(self.entry_meter, "python" if self.stream is None else "native"))
        if self.stream is not None:
            out.update(counters_stats(self.stream.counters(), "input", self.realtime))
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
    """An audio file (WAV, FLAC, OGG, ... anything libsndfile reads), any rate and channel count; a file
    libsndfile cannot read (a video programme: MPEG-TS, MP4, Matroska) has its first audio track decoded by
    FFmpeg into memory first (16 kHz mono s16, 115 MB an hour), its first sample the track's first.

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
            self._file = _decoded_by_ffmpeg(self.path, _sf_reason(error))
        if self._file.frames == 0:
            self._file.close()
            raise AudioFormatError(f"{self.path}: the file holds no audio")
        self.rate = self._file.samplerate
        self.channels = self._file.channels
        self.duration_s = self._file.frames / self.rate
        self.stats.header_frames = _wav_declared_frames(self.path)
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
                # libsndfile reads the frames a truncated WAV holds; the header says how many it should have.
                self.stats.missing_frames = max(0, self.stats.header_frames - read)
                break

    def _close(self) -> None:
        self._file.close()


class StdinSource(Source):
    """Raw interleaved PCM from a binary stream (standard input by default).

    A wrong declaration cannot always be seen, but the two common ones can: float samples declared
    s16le read as loud noise whose bytes are plausible float32 audio, and s16 samples declared f32le
    read as NaN/Inf and huge or vanishing values. The first second is checked once; a suspect
    declaration is reported in ``stats.format_warning`` (one line; the audio is still used). A wrong
    rate or channel count is not detected (the captions are then wrong or empty).

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
        probe, probe_bytes = b"", max(self._frame_bytes, min(self.rate, SAMPLE_RATE) * self._frame_bytes)
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
            if probe is not None:
                probe += data[:usable]
                if len(probe) >= probe_bytes:
                    self.stats.format_warning = _suspect_raw_format(probe, self.fmt, self.channels)
                    probe = None
            frames = np.frombuffer(data[:usable], dtype=self._dtype).reshape(-1, self.channels)
            with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf are counted in _deliver, not warned
                samples = frames.astype(np.float32) * np.float32(self._scale)
            total += len(frames)
            self.stats.input_frames = total
            converted = self._convert(samples)
            self._deliver(converted, wait=True)
            if self.live:
                self.clock.observe(total * SAMPLE_RATE // self.rate)
        self.stats.trailing_bytes = len(pending)
        if probe:
            self.stats.format_warning = _suspect_raw_format(probe, self.fmt, self.channels)
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
        stall_timeout_s: the device is lost when it delivers no audio for this long (the stream is lost at
            once when PortAudio ends it). Shorter pauses are counted (``stats.device_pauses``).
        native_callback: run the PortAudio callback in native code only (rtvoice._core.CaptureStream: no
            Python, no GIL in PortAudio's thread); False: a sounddevice callback (one native call). None:
            native when this build has it, unless RTVOICE_NATIVE_CALLBACK=0 (rtvoice.audio.native).

    When the device goes away while capturing, the worker raises :class:`rtvoice.errors.DeviceLostError`
    (in ``error``); the audio captured up to then has been delivered. See docs/faults.md.
    """

    name = "mic"
    live = True

    def __init__(self, device: str | int | None = None, channels: int | None = None,
                 samplerate: float | None = None, blocksize: int = 0, ring_seconds: float = 2.0,
                 stall_timeout_s: float = 1.0, native_callback: bool | None = None):
        super().__init__()
        if not stall_timeout_s > 0:
            raise ValueError(f"stall_timeout_s must be > 0 s, got {stall_timeout_s}")
        self.stall_timeout_s = stall_timeout_s
        from rtvoice import RingBuffer
        from rtvoice.audio.devices import _sounddevice, resolve_device

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
        self.native = use_native(native_callback)
        self._errors = stream_errors(sd)
        meter = new_meter()  # the callback's duration (rtvoice.audio.callback_timing)
        try:
            if self.native:  # PortAudio's thread runs only C++ (rtvoice.audio.native)
                from rtvoice._core import AudioStreamConfig, CaptureStream

                config = AudioStreamConfig(device=-1 if self.device is None else self.device, channels=self.channels,
                                           sample_rate=self.rate, frames_per_buffer=blocksize,
                                           suggested_latency_s=suggested_latency(info, "input", "low"), realtime=True)
                entry = new_meter()
                self._stream = CaptureStream(config, self._ring, meter, entry)
                self.stats = _MicStats(meter, entry, self._stream)
            else:
                self.stats = _MicStats(meter)
                write, ring = meter.write, self._ring

                def callback(indata, frames, time_info, status):  # PortAudio thread: one native call, nothing else
                    write(ring, indata, time_info.currentTime)  # ring.write(indata), timed

                self._stream = sd.InputStream(device=self.device, channels=self.channels, samplerate=self.rate,
                                              dtype="float32", blocksize=blocksize, latency="low", callback=callback)
        except self._errors as error:
            raise DeviceError(f"cannot open input device {self.device_name!r} at {self.rate:.0f} Hz, "
                              f"{self.channels} ch: {error}") from error
        self._sd = sd

    def describe(self) -> str:
        return f"microphone {self.device_name!r} ({self.rate:.0f} Hz, {self.channels} ch)"

    # Watchdog (this worker, never the callback): `quiet` adds up the time between this loop's checks in
    # which no audio arrived; an interval counts at most PAUSE_STEP_S, so a worker (or callback) held up by
    # the GIL or the scheduler for a while is not taken for a silent device.
    PAUSE_S = 0.25  # a device pause this long is counted (stats.device_pauses)
    PAUSE_STEP_S = 0.05

    def _run(self) -> None:
        chunk = max(1, int(self.rate * 0.01))
        buffer = np.zeros((int(self.rate * 0.2), self.channels), dtype=np.float32)
        total = 0
        try:
            self._stream.start()
        except self._errors as error:
            raise DeviceError(f"cannot start input device {self.device_name!r}: {error}") from error
        if self.native:
            self.stats.realtime = realtime_threads() > 0
        stopping = False
        arrived = 0  # frames the callback has written so far (read, waiting, or refused by the full ring)
        quiet = 0.0  # seconds without audio (see PAUSE_STEP_S)
        last_check = time.monotonic()
        # Before the first block, allow the device time to start.
        timeout = self.stall_timeout_s + 1.0
        try:
            while True:
                if not stopping and self._stop.is_set():
                    stopping = True
                    self._stream.stop()  # returns once the last callback has run
                available = self._ring.available
                n = self._ring.read_into(buffer) if available >= chunk or stopping else 0
                if n:
                    total += n
                    self.stats.input_frames = total
                    self.clock.observe(int(total * SAMPLE_RATE / self.rate))
                    self._deliver(self._convert(buffer[:n]), wait=False)
                elif stopping:
                    break
                now = time.monotonic()
                now_arrived = total + self._ring.available + self._ring.overflow_frames
                if now_arrived > arrived:
                    if quiet >= self.PAUSE_S and arrived > 0:
                        self.stats.device_pauses += 1
                        self.stats.device_pause_seconds = round(self.stats.device_pause_seconds + quiet, 3)
                    if arrived == 0:
                        timeout = self.stall_timeout_s
                    arrived, quiet = now_arrived, 0.0
                elif not stopping:
                    quiet += min(now - last_check, self.PAUSE_STEP_S)
                last_check = now
                if n or stopping:
                    continue
                if not self._stream.active or quiet > timeout:
                    why = "PortAudio ended the stream" if quiet <= timeout else \
                        f"it delivered nothing for {quiet:.1f} s"
                    rest = self._ring.read_into(buffer)  # less than a block may be left
                    if rest:
                        total += rest
                        self.stats.input_frames = total
                        self._deliver(self._convert(buffer[:rest]), wait=False)
                    raise self._lost(why)
                time.sleep(0.005)
            self._deliver(self._convert(np.zeros((0, self.channels), np.float32), last=True), wait=False)
        finally:
            self.stats.device_overflow = self._ring.overflow_frames

    def _lost(self, why: str) -> DeviceLostError:
        """The device went away; what it captured has been delivered (the resampler's tail too)."""
        self._deliver(self._convert(np.zeros((0, self.channels), np.float32), last=True), wait=False)
        seconds = self.stats.input_frames / self.rate
        return DeviceLostError(f"input device {self.device_name!r} was lost after {seconds:.1f} s of audio ({why})")

    def _close(self) -> None:
        try:
            self._stream.close()
        except self._errors:
            pass


def _decoded_by_ffmpeg(path: Path, libsndfile_reason: str):
    """The first audio track of a file libsndfile cannot read, decoded by FFmpeg (16 kHz mono s16) into an
    in-memory SoundFile; AudioFormatError when FFmpeg cannot read it either (or is not installed)."""
    import io
    import shutil
    import subprocess

    import soundfile as sf

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioFormatError(f"{path}: not a readable audio file ({libsndfile_reason})")
    done = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
                           "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"],
                          stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0 or not done.stdout:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        reason = "no audio track" if any("matches no streams" in line for line in said) else (
            said[-1][:200] if said else f"FFmpeg exited with code {done.returncode}")
        raise AudioFormatError(f"{path}: not a readable audio file ({libsndfile_reason}; FFmpeg: {reason})")
    return sf.SoundFile(io.BytesIO(done.stdout), format="RAW", subtype="PCM_16", samplerate=SAMPLE_RATE,
                        channels=1, endian="LITTLE")


def _sf_reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return text[:200]


def _wav_declared_frames(path: Path) -> int:
    """Frames the data chunk of a RIFF/WAVE header declares; 0 if not a WAV or the size is unknown (a WAV
    streamed through a pipe leaves 0 or 0xFFFFFFFF there)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return 0
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0
    block_align, pos = 0, 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"fmt " and pos + 22 <= len(head):
            block_align = int.from_bytes(head[pos + 20:pos + 22], "little")
        elif chunk == b"data":
            if not block_align or size in (0, 0xFFFFFFFF):
                return 0
            return size // block_align
        pos += 8 + size + (size & 1)
    return 0


def _suspect_raw_format(raw: bytes, fmt: str, channels: int = 1) -> str:
    """'' if the first bytes of raw input look like `fmt` with `channels`, else a one-line reason (see
    StdinSource)."""
    with np.errstate(all="ignore"):  # garbage bytes overflow float64 squares: that is a finding, not a warning
        return _suspect_raw_format_unchecked(raw, fmt, channels)


def _suspect_raw_format_unchecked(raw: bytes, fmt: str, channels: int) -> str:
    raw = raw[: len(raw) - len(raw) % 8]
    if len(raw) < 256:
        return ""
    as_float = np.frombuffer(raw, "<f4")
    finite = np.isfinite(as_float)
    magnitude = np.abs(np.where(finite, as_float, 0))
    # Sample values real float audio never has: NaN/Inf, beyond +-16 (24 dB over full scale), or nonzero
    # but below 1e-20 (s16 pairs whose high half is a small sample give denormal-sized floats).
    odd = (~finite) | (magnitude > 16) | ((magnitude > 0) & (magnitude < 1e-20))
    if fmt == "f32le":
        share = float(odd.mean())
        if share > 0.05:
            return (f"the input declared f32le does not look like float audio ({share:.0%} of the first "
                    f"samples are NaN/Inf, beyond +-16 or below 1e-20): is it s16le?")
    elif fmt == "s16le":
        as_s16 = np.frombuffer(raw, "<i2").astype(np.float64) / 32768
        rms = float(np.sqrt(np.mean(as_s16 ** 2)))
        if rms > 0.25 and odd.mean() < 0.001 and np.count_nonzero(magnitude) > 0.5 * len(magnitude):
            return (f"the input declared s16le reads as loud noise (RMS {rms:.2f} of full scale) but its bytes "
                    f"are plausible float32 samples: is it f32le?")
    if channels == 1:
        # Interleaved stereo read as mono: samples 2k and 2k+1 are the two channels at one instant, far closer
        # than 2k+1 and 2k+2 (one sampling period apart). In real mono both differences are alike.
        x = np.frombuffer(raw, RAW_FORMATS[fmt][0]).astype(np.float64)
        x = x[np.isfinite(x) & (np.abs(x) < 1e6)]  # garbage floats are reported above, not here
        x = x[: len(x) - len(x) % 2 - 1]
        if len(x) < 63:
            return ""
        within = np.mean((x[0:-1:2] - x[1::2]) ** 2)
        across = np.mean((x[1::2] - x[2::2]) ** 2)
        if across > 0 and within < 0.05 * across:
            return ("the input declared mono has pairs of nearly equal samples: interleaved stereo? "
                    "(--channels 2, and check --rate)")
    return ""
