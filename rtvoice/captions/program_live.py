"""CEA-608 captions muxed into a LIVE programme (``rtvoice caption FEED --program-in URL --program-out URL|FILE``).

The bytes and channels are those of rtvoice.captions.program (CC1 the source language, CC3 the translation, roll-up
as ``--scc``); what differs is when they go in. A GStreamer child (``gst-launch-1.0``) reads the live programme
(``urisourcebin ! parsebin``: srt://, udp://, rtsp://, http(s)://), decodes it, and holds each video frame in
``cccombiner`` for ``--program-delay`` seconds (the aggregator's latency: in a live pipeline it waits that long
past a frame's running time for caption data before the frame goes on) while rtvoice writes the caption data
into the running pipeline as it is made: a GDP stream on the child's standard input (``fdsrc ! gdpdepay``), one
``closedcaption/x-cea-708,format=cc_data`` buffer a frame that carries a pair, timed on the video's running
time. The frames are re-encoded (x264, zero latency), the first audio track AAC, and the programme goes out as
MPEG-TS (``udpsink``, ``srtsink``) or into a file.

Two readers, two clocks: rtvoice hears the programme's audio on its own feed (the same programme sent to two
URLs: one SRT listener or UDP port cannot be read twice), and the caption's time is its ready time on that feed
(stream seconds from the feed's anchor, the arrival of its first sample). The child prints each audio and video
packet's times as it leaves the demuxer (``identity silent=false`` under ``-v``); the smallest (wall time the
line was read - running time of its DTS) over the packets seen is when running time 0 arrived on the wall clock
(the audio's when there is audio), so stream second s is running time (anchor + s - that offset), and frame k
of the video (from its first frame) is running time first + k / frame rate. Both readers see a moment of the
programme within a few tenths of a second (their demuxers and decoders): that is the caption's placement error,
well inside the delay (docs/broadcast.md has the figures).

Why a delay: a pair is written once its frame is known to be final: the frames up to ``MARGIN_S`` before now
(both channels' pairs for a frame go in one buffer, in time order, as gdpdepay and cccombiner need), and the
frame goes out ``--program-delay`` after it arrived, so the data is there first. A pair whose frame was already
written (a caption made later than its frame: the mux had not seen the video yet) goes on the next free frame
and is counted (``late_pairs``). The idle clear is sent on time (a tick every ``TICK_S``), not when the next
caption comes, as in a file.

The child is a separate process: it dying costs the programme (one line, counted), never the captions; out to a
stream a new child takes the programme up (up to MAX_RESTARTS times), into a file it is not restarted (it would
overwrite the file). When the captions end (the feed ended, a
signal) the child's caption data ends and it is sent an interrupt (``-e``: the muxer ends the stream cleanly; a
second one if the end does not come through).
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from rtvoice.captions import gdp
from rtvoice.captions.program import CHANNEL_FIELD, GST_LAUNCH, MUXERS, _SEGMENT
from rtvoice.captions.scc import RollUpCaptions
from rtvoice.errors import ProgramError

DEFAULT_DELAY_S = 3.0
MARGIN_S = 0.3  # pairs are written for the frames this far behind now: a burst is timed at its ready time or later
TICK_S = 0.04
MAX_RESTARTS = 3
DEFAULT_FRAME_RATE = Fraction(30000, 1001)  # until the child has said the video's
OUT_SCHEMES = ("udp", "srt")
VIDEO_CODECS = "video/x-h264;video/x-h265;video/mpeg"  # what the frames' arrival is read on (before decoding)
AUDIO_CODECS = "audio/mpeg;audio/x-ac3;audio/x-eac3;audio/x-opus"
ELEMENTS = ("urisourcebin", "parsebin", "decodebin", "identity", "fdsrc", "gdpdepay", "cccombiner", "x264enc",
            "h264parse", "mpegtsmux", "avenc_aac", "aacparse", "udpsink", "srtsink")

_TIME = r"(\d+):(\d\d):(\d\d)\.(\d{9})"
_CHAIN = re.compile(rf"(?:arrive|hear): last-message = chain .*?dts: (?:none|{_TIME}), pts: {_TIME}, duration: "
                    r"(?:0:00:00\.(\d{9}))?")
_RATE = re.compile(r"arrive\.GstPad:(?:src|sink): caps = video/.*?framerate=\(fraction\)(\d+)/(\d+)")


def is_live(target: str | Path | None) -> bool:
    return target is not None and "://" in str(target)


def check_live_out(target: str) -> str:
    """--program-out for a live programme: udp://host:port, srt://… or a file with a known container."""
    if not is_live(target):
        path = Path(target)
        if path.suffix.lower() not in MUXERS:
            raise ProgramError(f"--program-out {target}: unknown container (use .ts, .m2ts, .mp4, .mov or .mkv)")
        if not path.resolve().parent.is_dir():
            raise ProgramError(f"--program-out {target}: no such folder {path.parent}")
        return str(path)
    parts = urlsplit(target)
    if parts.scheme.lower() not in OUT_SCHEMES:
        raise ProgramError(f"--program-out {target}: a live programme goes out as udp:// or srt:// MPEG-TS, or into "
                           "a file")
    if parts.scheme.lower() == "udp" and (not parts.hostname or not parts.port):
        raise ProgramError(f"--program-out {target}: udp:// needs a host and a port")
    return target


@dataclass
class LiveMuxStats:
    program_in: str
    out: str
    channels: dict  # "CC1": language, "CC3": language
    program_delay_s: float
    frame_rate: str | None = None  # the video's, as the child said it
    video_frames: int = 0  # video frames seen arriving (as they leave the demuxer)
    caption_frames: int = 0  # buffers written: frames that carry a pair in either field
    late_pairs: int = 0  # pairs that went on a later frame than their own (its data was already written)
    late_frames_max: int = 0
    unsent_pairs: int = 0  # pairs not written: the child had ended, or never saw the video
    pairs_after_end: int = 0  # pairs written after the last frame the child saw (the programme ended first)
    mux_failures: int = 0
    restarts: int = 0  # children started again after one failed (a stream out only)
    end_forced: bool = False  # the child was stopped without the stream's end (see finish())
    error: str | None = None
    first_audio_after_feed_s: float | None = None
    video_offset_less_audio_s: float | None = None
    tracks: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class LiveProgrammeChannel(RollUpCaptions):
    """One caption channel (CC1 or CC3) of a live programme: each burst handed to the mux as it is made, on the
    stream's timeline (frame k: stream second k / frame rate), and the idle clear sent on time (:meth:`tick`)."""

    def __init__(self, mux: "LiveProgrammeMux", channel: int, rows: int,
                 stream_time: Callable[[float], float | None]):
        if channel not in CHANNEL_FIELD:
            raise ValueError(f"a programme carries CC1 and CC3, not CC{channel}")
        super().__init__(stream_time, rows=rows, channel=channel, frame_rate=float(DEFAULT_FRAME_RATE))
        self.mux = mux
        self.field = CHANNEL_FIELD[channel]
        self._lock = threading.Lock()  # write() on the caption thread, tick() on the mux's

    def write(self, event) -> None:
        with self._lock:
            if self.bursts == 0 and self.mux.frame_rate is not None:  # the video's own grid once it is known
                self.frame_rate = float(self.mux.frame_rate)
            super().write(event)

    def _emit(self, frame: int, pairs: list[tuple[int, int]]) -> None:
        self.mux.push(self.field, frame / self.frame_rate, 1 / self.frame_rate, pairs)

    def tick(self, now_s: float) -> None:
        """The screen cleared once the channel has been idle for clear_after_s (stream second now_s)."""
        with self._lock:
            if not self._closed:
                self._clear_if_idle(self._frame_of(now_s))

    def close(self) -> None:
        with self._lock:
            super().close()


class LiveProgrammeMux:
    """The GStreamer child that captions a live programme (see the module docstring).

    Args:
        program_in: the programme's URL.
        out: udp://, srt:// or a file.
        delay_s: how long each frame waits for its caption data (s).
        anchor: the audio feed's anchor (wall time of its stream second 0; None until its first audio).
        announce: one line to the user.
        launch: gst-launch-1.0's path.
    """

    def __init__(self, program_in: str, out: str, delay_s: float, anchor: Callable[[], float | None],
                 announce: Callable[[str], None], launch: str = GST_LAUNCH):
        self.program_in = program_in
        self.out = out
        self.delay_s = delay_s
        self.anchor = anchor
        self.announce = announce
        self.launch = launch
        self.channels: dict[str, LiveProgrammeChannel] = {}
        self.stats = LiveMuxStats(program_in, out, {}, delay_s)
        self.frame_rate: Fraction | None = None
        self._first_rt: float | None = None  # running time of the first video frame (s)
        self._first_audio_rt: float | None = None
        self._offsets: dict[str, float] = {}  # "audio"/"video": the smallest (wall - running time) seen (s)
        self._segments: dict[str, tuple[int, int]] = {}  # "audio"/"video": the segment's (base, start) (ns)
        self._pending: dict[int, deque] = {1: deque(), 2: deque()}  # field: (stream s, pair)
        self._written = -1  # the last frame whose data is written
        self._last_frame = -1  # the last frame the child has decoded
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._readers: list[threading.Thread] = []  # the child's stdout and stderr
        self._feeder: threading.Thread | None = None
        self._ending = False
        self._failed = False

    def channel(self, language: str, channel: int, rows: int, stream_time) -> LiveProgrammeChannel:
        self.channels[language] = LiveProgrammeChannel(self, channel, rows, stream_time)
        self.stats.channels[f"CC{channel}"] = language
        return self.channels[language]

    def pipeline(self) -> list[str]:
        delay_ns = int(self.delay_s * 1e9)
        hold = ["queue", f"max-size-time={delay_ns + 2 * 10 ** 9}", "max-size-buffers=0", "max-size-bytes=0"]
        if is_live(self.out):
            parts = urlsplit(self.out)
            sink = (["udpsink", f"host={parts.hostname}", f"port={parts.port}"] if parts.scheme.lower() == "udp"
                    else ["srtsink", f"uri={self.out}"])
            muxer = "mpegtsmux"
        else:
            sink, muxer = ["filesink", f"location={self.out}"], MUXERS[Path(self.out).suffix.lower()]
        return [self.launch, "-v", "-e", "urisourcebin", f"uri={self.program_in}", "!", "parsebin", "name=programme",
                "programme.", "!", VIDEO_CODECS, "!", "identity", "name=arrive", "silent=false", "!", *hold, "!",
                "decodebin", "!", "videoconvert", "!", "cccombiner", "name=captions", f"latency={delay_ns}", "!",
                "x264enc", "speed-preset=veryfast", "tune=zerolatency", "!", "h264parse", "!", muxer, "name=mux",
                "!", *sink,
                "fdsrc", "fd=0", "!", "gdpdepay", "!", "captions.caption",
                "programme.", "!", AUDIO_CODECS, "!", "identity", "name=hear", "silent=false", "!", *hold, "!",
                "decodebin", "!", "audioconvert", "!",
                "audioresample", "!", "avenc_aac", "!", "aacparse", "!", "mux."]

    def start(self) -> None:
        self._spawn()
        self._feeder = threading.Thread(target=self._feed, name="rtvoice-live-mux-feed", daemon=True)
        self._feeder.start()

    def _spawn(self) -> bool:
        """A child and its readers; False (one line, counted) when it cannot be started."""
        try:
            proc = subprocess.Popen(self.pipeline(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)  # rtvoice ends it
        except OSError as error:
            self._fail(f"GStreamer did not start ({error.strerror or error})")
            return False
        try:  # the caption stream's start before any pair the feeder writes
            proc.stdin.write(gdp.stream_start("rtvoice-live-cc-data") + gdp.caps(
                "closedcaption/x-cea-708, format=(string)cc_data") + gdp.time_segment())
            proc.stdin.flush()
        except OSError:
            pass  # it died at once: its reader says so
        with self._lock:
            self._proc = proc
        self._readers = [threading.Thread(target=target, args=(proc,), name="rtvoice-live-mux", daemon=True)
                         for target in (self._read_stdout, self._read_stderr)]
        for thread in self._readers:
            thread.start()
        self.announce(f"captioning the live programme {self.program_in} into {self.out} with GStreamer "
                      f"(pid {proc.pid}), {self.delay_s:g} s behind")
        return True

    # --- the child's reports --------------------------------------------------------------------------------

    def _read_stdout(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            wall = time.time()
            stream = "video" if "GstIdentity:arrive" in line else "audio" if "GstIdentity:hear" in line else None
            if stream is None:
                continue
            if "type: segment" in line:
                segment = _SEGMENT.search(line)
                if segment:
                    self._segments[stream] = int(segment.group(1)), int(segment.group(2))
                continue
            rate = _RATE.search(line)
            if rate and stream == "video" and self.frame_rate is None and int(rate.group(1)) > 0:
                self._set_rate(Fraction(int(rate.group(1)), int(rate.group(2))))
                continue
            chain = _CHAIN.search(line)
            if chain and stream in self._segments:
                shown = self._running(stream, chain.groups()[4:8])
                # a frame arrives in decode order: its DTS says when (a B-frame is shown later than it comes)
                arrived = shown if chain.group(1) is None else self._running(stream, chain.groups()[:4])
                if stream == "audio":
                    with self._lock:
                        self._offsets["audio"] = min(self._offsets.get("audio", math.inf), wall - arrived)
                        if self._first_audio_rt is None:
                            self._first_audio_rt = shown
                    continue
                if self.frame_rate is None and chain.group(9):  # no rate in the caps: the frame's duration
                    self._set_rate(Fraction(10 ** 9, int(chain.group(9))).limit_denominator(1001))
                with self._lock:
                    if self._first_rt is None:
                        self._first_rt = shown
                    if self.frame_rate is not None:
                        self._last_frame = max(self._last_frame, round((shown - self._first_rt) * self.frame_rate))
                    self._offsets["video"] = min(self._offsets.get("video", math.inf), wall - arrived)
                    self.stats.video_frames += 1
        self._child_ended(proc)

    @property
    def _offset(self) -> float | None:
        """When running time 0 arrived, on the wall clock (s): from the audio when the programme has some (rtvoice
        hears the same packets: the sender's interleaving of audio and video cancels), else from the video."""
        return self._offsets.get("audio", self._offsets.get("video"))

    def _running(self, stream: str, hms_ns) -> float:
        """A buffer time (h, m, s, ns strings) as running time (s) in that stream's segment."""
        h, m, sec, ns = map(int, hms_ns)
        base, start = self._segments[stream]
        return (base + ((h * 60 + m) * 60 + sec) * 10 ** 9 + ns - start) / 1e9

    def _set_rate(self, rate: Fraction) -> None:
        self.frame_rate = rate
        self.stats.frame_rate = f"{rate.numerator}/{rate.denominator}"

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text[:300])

    def _child_ended(self, proc: subprocess.Popen) -> None:
        code = proc.wait()
        if self._ending:  # rtvoice ended it: finish() says how
            return
        why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        said = f": {self._stderr[-1]}" if self._stderr and code > 0 else ""
        if is_live(self.out) and self.stats.restarts < MAX_RESTARTS:
            # a stream out resumes where a new child picks the programme up (receivers resync on its next
            # keyframe); a file would be overwritten, so it is not restarted
            with self._lock:
                self.stats.mux_failures += 1
                self.stats.restarts += 1
                self.stats.error = f"GStreamer ended with {why}{said}"
                self._segments.clear()
                self._offsets.clear()
                self._first_rt = self._first_audio_rt = None
                self._written = self._last_frame = -1
            self.announce(f"the live programme mux failed (GStreamer ended with {why}{said}); restarting it "
                          f"(programme mux failures: {self.stats.mux_failures}, restarts: {self.stats.restarts})")
            self._spawn()
            return
        self._fail(f"GStreamer ended with {why}{said}")

    def _fail(self, why: str) -> None:
        with self._lock:
            if self._failed:
                return
            self._failed = True
            self.stats.mux_failures += 1
            self.stats.error = why
            for queue in self._pending.values():  # no child to take them
                self.stats.unsent_pairs += len(queue)
                queue.clear()
        self.announce(f"the live programme mux failed ({why}); {self.out} ends here, the captions go on "
                      f"(programme mux failures: {self.stats.mux_failures})")

    # --- the caption data ---------------------------------------------------------------------------------

    def push(self, field: int, start_s: float, step_s: float, pairs: list[tuple[int, int]]) -> None:
        """A burst: `pairs` one a frame from stream second start_s (step_s apart)."""
        with self._lock:
            if self._failed:
                self.stats.unsent_pairs += len(pairs)
                return
            self._pending[field].extend((start_s + k * step_s, pair) for k, pair in enumerate(pairs))

    def _frame_of(self, stream_s: float, anchor: float) -> int:
        """The video frame (from the first decoded one) at or after stream second stream_s."""
        running = anchor + stream_s - self._offset
        return max(0, math.ceil((running - self._first_rt) * self.frame_rate - 1e-6))

    def _feed(self) -> None:
        while not self._stop.wait(TICK_S):
            anchor = self.anchor()
            if anchor is None:
                continue
            now = time.time() - anchor
            for channel in self.channels.values():
                channel.tick(now)
            self._flush(now - MARGIN_S, anchor)

    def _flush(self, until_s: float | None, anchor: float) -> None:
        """Write the frames up to stream second until_s (None: every pending pair)."""
        with self._lock:
            if self._first_rt is None or self.frame_rate is None or self._offset is None or self._failed:
                return
            targets = {f: deque((self._frame_of(s, anchor), pair) for s, pair in q) for f, q in self._pending.items()}
            last = math.inf if until_s is None else self._frame_of(until_s, anchor)
            data = bytearray()
            frame = self._written
            while frame < last and any(targets.values()):
                frame += 1
                triplets, carried = b"", False
                for f, (valid, padding) in ((1, (0xFC, 0xF8)), (2, (0xFD, 0xF9))):
                    queue = targets[f]
                    if queue and queue[0][0] <= frame:
                        target, pair = queue.popleft()
                        self._pending[f].popleft()
                        if target < frame:
                            self.stats.late_pairs += 1
                            self.stats.late_frames_max = max(self.stats.late_frames_max, frame - target)
                        triplets += bytes((valid, *pair))
                        carried = True
                    else:
                        triplets += bytes((padding, 0x80, 0x80))
                if carried:
                    if frame > self._last_frame and until_s is None:
                        self.stats.pairs_after_end += (triplets[0] == 0xFC) + (triplets[3] == 0xFD)
                    ns = Fraction(10 ** 9) / self.frame_rate
                    pts = round(self._first_rt * 1e9 + frame * ns)
                    data += gdp.buffer(triplets, pts, round(ns))
                    self.stats.caption_frames += 1
            self._written = max(self._written, frame if until_s is None else last)
        if data:
            self._write(bytes(data))

    def _write(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (OSError, ValueError):  # the child is gone: _child_ended says so
            pass

    # --- the end ------------------------------------------------------------------------------------------

    def finish(self, timeout_s: float = 10.0) -> LiveMuxStats:
        """Every pending pair written, the caption data ended, the child interrupted (-e: the stream ends
        cleanly) and waited for; returns the stats (one line said where it failed)."""
        self._stop.set()
        if self._feeder is not None:  # no tick while the last pairs are written
            self._feeder.join(timeout=1.0)
        if self._proc is None:
            return self._final_stats()
        anchor = self.anchor()
        if anchor is not None:
            self._flush(None, anchor)
        with self._lock:
            for queue in self._pending.values():  # no video frame to carry them (the child never saw the video)
                self.stats.unsent_pairs += len(queue)
                queue.clear()
        self._ending = True
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        if self._proc.poll() is None:
            time.sleep(min(self.delay_s, 5.0))  # the held frames go out before the end
            self._interrupt()
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                # The end of stream did not come through (seen in about 1 run in 6 with udpsrc): a second interrupt
                # makes gst-launch stop without it; the muxer's last packets and the frames held may be missing.
                self._interrupt()
                try:
                    self._proc.wait(timeout=timeout_s)
                    self.stats.end_forced = True
                    self.announce(f"GStreamer did not end the programme within {timeout_s:g} s of the interrupt; "
                                  f"stopped without its end ({self.out}: the last frames it held may be missing)")
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                    self._fail(f"GStreamer did not stop within {2 * timeout_s:g} s of the interrupt and was killed")
        code = self._proc.wait()
        if code != 0 and not self.stats.end_forced:  # it failed on its own while ending
            why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            self._fail(f"GStreamer ended with {why}{': ' + self._stderr[-1] if self._stderr and code > 0 else ''}")
        for thread in self._readers:
            thread.join(timeout=2.0)
        if not self._failed:
            self.announce(f"live programme with captions "
                          f"({', '.join(f'{cc} {lang}' for cc, lang in self.stats.channels.items())}): {self.out} "
                          f"({self.stats.video_frames} frames, {self.stats.caption_frames} with caption data, "
                          f"{self.stats.late_pairs} pairs late)")
        return self._final_stats()

    def _interrupt(self) -> None:
        try:
            self._proc.send_signal(signal.SIGINT)
        except ProcessLookupError:  # it has just ended (an SRT sender that hangs up ends the programme itself)
            pass

    def _final_stats(self) -> LiveMuxStats:
        anchor = self.anchor()
        if anchor is not None and self._first_audio_rt is not None and "audio" in self._offsets and \
                not self.stats.restarts:
            # the programme's first audio on the wall clock less the feed's first sample: the readers' skew when
            # both read the programme from its start
            self.stats.first_audio_after_feed_s = round(self._offsets["audio"] + self._first_audio_rt - anchor, 4)
        if anchor is not None and "video" in self._offsets and "audio" in self._offsets:
            self.stats.video_offset_less_audio_s = round(self._offsets["video"] - self._offsets["audio"], 4)
        self.stats.tracks = {language: c.stats() for language, c in self.channels.items()}
        return self.stats

    def kill(self) -> None:
        """rtvoice failed before the captions started: the child goes too."""
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._ending = True
            self._proc.kill()
            self._proc.wait()
