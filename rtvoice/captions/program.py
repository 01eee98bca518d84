"""CEA-608 captions muxed into a video programme (``rtvoice caption … --program-out FILE``).

The captions ride in the programme's H.264 stream as ATSC A/53 caption data (SEI user data, the CEA-708
``cc_data`` triplets a television decodes 608 from): the source language on CC1 (field 1), the translation on
CC3 (field 2). Each channel is the roll-up encoder of an SCC file (rtvoice.captions.scc.RollUpCaptions), so the
bytes and the timing are those of ``--scc``; only the frame grid is the programme's own (its video frame rate,
one byte pair a frame and field).

The mux is GStreamer, run as a child process (``gst-launch-1.0``; Debian gstreamer1.0-tools and -plugins-base,
-good, -bad, -ugly, -libav), so a crash in it costs the programme, never the captions: the programme is decoded,
``cccombiner`` attaches each frame's caption data (``GstVideoCaptionMeta``), ``x264enc`` writes it as A/53 SEI
while re-encoding the video, the first audio track is re-encoded AAC, and the container is written
(``mpegtsmux`` for .ts, ``mp4mux`` for .mp4/.mov, ``matroskamux`` for .mkv). The caption data goes in as a
GStreamer data protocol (GDP) stream of ``closedcaption/x-cea-708,format=cc_data`` buffers, one a frame that
carries a pair, each with its presentation time (``filesrc ! gdpdepay``): Debian's GStreamer 1.22 has no SCC
or MCC parser (they moved to the Rust plugins), and GDP carries both fields and the times without Python
bindings. FFmpeg cannot do this: its encoders write A/53 captions only when they come from a decoded frame.

The timeline: a caption's time is seconds from the programme's first audio sample (what rtvoice heard); the
programme's video may start before or after its audio (MPEG-TS muxers offset them), so the frames count from
the first video frame and a caption at audio time t goes on frame ceil((t + audio start - video start) × fps)
(start times from ``ffprobe``). GStreamer times the caption data by running time, and its demuxers do not agree
on where a programme's running time starts (tsdemux: the first video frame of an MPEG-TS from FFmpeg; qtdemux:
the MP4's time 0, before the first frame when an edit list delays the video), so a short GStreamer run first
reads the first video frame's running time, and frame k's caption data goes at that plus k / fps.

After the captions: the mux runs once recognition has ended (a file is recognised faster than real time, and
the combiner would otherwise have to wait for captions not yet made); a live programme is muxed as its
captions are made (rtvoice.captions.program_live).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from rtvoice.captions import gdp
from rtvoice.captions.scc import RollUpCaptions, frame_of
from rtvoice.errors import ProgramError

GST_LAUNCH = "gst-launch-1.0"
GST_PACKAGES = ("gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
                "gstreamer1.0-plugins-ugly gstreamer1.0-libav")
MUXERS = {".ts": "mpegtsmux", ".m2ts": "mpegtsmux", ".mts": "mpegtsmux", ".mp4": "mp4mux", ".mov": "mp4mux",
          ".mkv": "matroskamux"}
ELEMENTS = ("decodebin", "videoconvert", "cccombiner", "gdpdepay", "x264enc", "h264parse", "audioconvert",
            "audioresample", "avenc_aac", "aacparse")
CHANNEL_FIELD = {1: 1, 3: 2}  # the programme's caption channels and their 608 field
_STDERR_LINES = 20


@dataclass(frozen=True)
class Programme:
    """A video programme file as ffprobe sees it.

    path: the file.
    frame_rate: its video frames a second.
    video_start_s: the first video frame's presentation time (s).
    audio_start_s: the first audio track's (s); None when it has no audio.
    video_duration_s: how long its video lasts (s); None when the file does not say.
    """

    path: Path
    frame_rate: Fraction
    video_start_s: float
    audio_start_s: float | None
    video_duration_s: float | None = None

    @property
    def frames(self) -> int | None:
        """Video frames in the programme (None: not known)."""
        return None if self.video_duration_s is None else int(self.video_duration_s * self.frame_rate)

    @property
    def audio_offset_s(self) -> float:
        """Where the first audio sample (a caption's time 0) is on the video's timeline (s)."""
        return 0.0 if self.audio_start_s is None else self.audio_start_s - self.video_start_s


def probe_programme(path: str | Path, option: str = "--program-in") -> Programme:
    """The programme's video frame rate and its streams' start times (ffprobe); ProgramError, one line, when it is
    not a file, not readable, or has no video."""
    if "://" in str(path) or str(path) == "-":
        raise ProgramError(f"{option} {path}: a programme file is needed (a live programme URL is muxed live: "
                           "give it as --program-in with the audio feed's URL as the input)")
    path = Path(path)
    if not path.is_file():
        raise ProgramError(f"{option} {path}: no such file")
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise ProgramError("the programme needs ffprobe (Debian package ffmpeg)")
    entries = ("stream=codec_type,avg_frame_rate,r_frame_rate,start_time,duration:"
               "stream_disposition=attached_pic:format=duration")
    done = subprocess.run([ffprobe, "-v", "error", "-show_entries", entries,
                           "-of", "json", str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise ProgramError(f"{option} {path}: not a readable programme ({said[-1] if said else 'ffprobe failed'})")
    probed = json.loads(done.stdout or "{}")
    streams = probed.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"
             and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video:
        kinds = ", ".join(sorted({s.get("codec_type", "?") for s in streams})) or "none"
        raise ProgramError(f"{option} {path}: not a video programme (its streams: {kinds})")
    rate = _frame_rate(video[0])
    if rate is None:
        raise ProgramError(f"{option} {path}: its video has no frame rate")
    duration = _seconds(video[0].get("duration")) or _seconds(probed.get("format", {}).get("duration"))
    return Programme(path, rate, _start(video[0]), _start(audio[0]) if audio else None, duration)


def _frame_rate(stream: dict) -> Fraction | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = Fraction(stream.get(key, "0/0"))
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:
            return rate
    return None


def _start(stream: dict) -> float:
    return _seconds(stream.get("start_time")) or 0.0


def _seconds(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class ProgrammeChannel(RollUpCaptions):
    """One caption channel of the programme (CC1 or CC3): roll-up bursts kept as {frame: byte pair} on the
    programme's frame grid, for the mux at the end.

    Args:
        programme: whose frame rate and audio offset the frames count on.
        channel: 1 (field 1) or 3 (field 2).
        rows: roll-up rows (2-4).
        stream_time: as for RollUpCaptions (a live source's clock), None for a file.
    """

    def __init__(self, programme: Programme, channel: int, rows: int = 3,
                 stream_time: Callable[[float], float | None] | None = None):
        if channel not in CHANNEL_FIELD:
            raise ValueError(f"a programme carries CC1 and CC3, not CC{channel}")
        super().__init__(stream_time, rows=rows, channel=channel, frame_rate=float(programme.frame_rate),
                         offset_s=programme.audio_offset_s)
        self.pairs: dict[int, tuple[int, int]] = {}
        self.end_frame = programme.frames  # the pairs from here on have no video frame to ride in

    def _emit(self, frame: int, pairs: list[tuple[int, int]]) -> None:
        for k, pair in enumerate(pairs):
            self.pairs[frame + k] = pair

    def close(self) -> None:
        """As RollUpCaptions.close, but the last caption is cleared before the programme's last frame when its
        clearing would come after it (a decoder shows a roll-up row's cue until the next change: without the
        clear, the last row would never be shown as a cue)."""
        if not self._closed and self._shown and self.end_frame is not None:
            clear_at = max(self._busy_until, self.end_frame - len(self.encoder.erase()))
            if clear_at < self._busy_until + frame_of(self.clear_after_s, self.frame_rate):
                self._send(clear_at, self.encoder.erase())
                self._shown = False
        super().close()

    @property
    def pairs_after_end(self) -> int:
        """Byte pairs timed after the programme's last frame (lost: no frame carries them)."""
        return 0 if self.end_frame is None else sum(1 for frame in self.pairs if frame >= self.end_frame)

    def stats(self) -> dict:
        return {**super().stats(), "pairs_after_end": self.pairs_after_end}


# --- the caption data ------------------------------------------------------------------------------------------

def cc_data_stream(channels: list[ProgrammeChannel], frame_rate: Fraction, start_ns: int = 0) -> tuple[bytes, int]:
    """The channels' pairs as a GDP stream of ``closedcaption/x-cea-708,format=cc_data`` buffers, one for each
    frame that carries a pair: a triplet for field 1 and one for field 2 (cc_valid set where that field has a
    pair, else the padding triplet), frame k's presentation time start_ns + k / frame_rate (running time: the
    segment starts at 0). Returns (stream, frames)."""
    fields: dict[int, dict[int, tuple[int, int]]] = {1: {}, 2: {}}
    for channel in channels:
        fields[CHANNEL_FIELD[channel.encoder.channel]].update(channel.pairs)
    frames = sorted(set(fields[1]) | set(fields[2]))
    out = bytearray(gdp.stream_start("rtvoice-cc-data"))
    out += gdp.caps(f"closedcaption/x-cea-708, format=(string)cc_data, "
                    f"framerate=(fraction){frame_rate.numerator}/{frame_rate.denominator}")
    out += gdp.time_segment()
    ns = Fraction(10 ** 9) / frame_rate
    for frame in frames:
        triplets = b""
        for field, (valid, padding) in ((1, (0xFC, 0xF8)), (2, (0xFD, 0xF9))):
            pair = fields[field].get(frame)
            triplets += bytes((valid, *pair)) if pair else bytes((padding, 0x80, 0x80))
        out += gdp.buffer(triplets, start_ns + round(frame * ns), round((frame + 1) * ns) - round(frame * ns))
    return bytes(out), len(frames)


# --- GStreamer's timeline -------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"type: segment.*?base=\(guint64\)(\d+).*?start=\(guint64\)(\d+)")
_FIRST_PTS = re.compile(r"chain .*?pts: (\d+):(\d\d):(\d\d)\.(\d{9})")


def video_running_start_ns(programme: Programme, launch: str = GST_LAUNCH, timeout_s: float = 30.0) -> int | None:
    """The running time GStreamer gives the programme's first decoded video frame (ns): its segment's base plus
    its PTS less the segment's start, read from ``identity``'s messages while the first frame is decoded. None
    when GStreamer does not say (the caption data is then timed from running time 0)."""
    args = [launch, "-v", "filesrc", f"location={programme.path}", "!", "decodebin", "name=programme",
            "programme.", "!", "video/x-raw", "!", "identity", "silent=false", "!", "fakesink", "num-buffers=1"]
    if programme.audio_start_s is not None:  # an unlinked audio pad would stop the pipeline
        args += ["programme.", "!", "audio/x-raw", "!", "fakesink", "num-buffers=1"]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    base = start = None
    for line in done.stdout.splitlines():
        if "last-message" not in line:
            continue
        segment = _SEGMENT.search(line)
        if segment:
            base, start = int(segment.group(1)), int(segment.group(2))
            continue
        pts = _FIRST_PTS.search(line)
        if pts and base is not None:
            h, m, sec, ns = map(int, pts.groups())
            return base + ((h * 60 + m) * 60 + sec) * 10 ** 9 + ns - start
    return None


# --- the mux ----------------------------------------------------------------------------------------------------

def check_program_out(path: str | Path) -> Path:
    """--program-out: a file whose extension names a container (ProgramError, one line, otherwise)."""
    text = str(path)
    if "://" in text or text == "-":
        raise ProgramError(f"--program-out {text}: a file is needed (.ts, .mp4, .mov, .mkv); streaming the "
                           "captioned programme to a URL is not supported yet")
    out = Path(text)
    if out.suffix.lower() not in MUXERS:
        raise ProgramError(f"--program-out {text}: unknown container (use .ts, .m2ts, .mp4, .mov or .mkv)")
    if not out.resolve().parent.is_dir():
        raise ProgramError(f"--program-out {text}: no such folder {out.parent}")
    return out


def check_gstreamer(elements: tuple[str, ...] = ELEMENTS) -> str:
    """gst-launch-1.0's path once every element the mux uses is installed (ProgramError naming the packages
    otherwise)."""
    launch = shutil.which(GST_LAUNCH)
    inspect = shutil.which("gst-inspect-1.0")
    if launch is None or inspect is None:
        raise ProgramError(f"muxing captions into a programme needs GStreamer (apt-get install {GST_PACKAGES})")
    missing = [e for e in elements if subprocess.run([inspect, "--exists", e], stdin=subprocess.DEVNULL,
                                                     capture_output=True).returncode != 0]
    if missing:
        raise ProgramError(f"GStreamer lacks {', '.join(missing)} (apt-get install {GST_PACKAGES})")
    return launch


@dataclass
class MuxStats:
    out: str
    channels: dict  # "CC1": language, "CC3": language
    caption_frames: int = 0  # frames that carry a pair in either field
    video_running_start_s: float | None = None  # GStreamer's running time of the first video frame
    mux_seconds: float = 0.0
    mux_failures: int = 0  # GStreamer died or failed: the programme file is incomplete
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class ProgrammeMux:
    """The captions into the programme with a GStreamer child (see the module docstring).

    Args:
        programme: the programme read (probe_programme).
        out: the captioned programme written.
        channels: {language: ProgrammeChannel}, CC1 first.
        announce: one line to the user (the child's pid when it starts, its failure).
        launch: gst-launch-1.0's path.
    """

    def __init__(self, programme: Programme, out: Path, channels: dict[str, ProgrammeChannel],
                 announce: Callable[[str], None], launch: str = GST_LAUNCH):
        self.programme = programme
        self.out = Path(out)
        self.channels = channels
        self.announce = announce
        self.launch = launch
        self.stats = MuxStats(str(self.out), {f"CC{c.encoder.channel}": language for language, c in channels.items()})
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)

    def pipeline(self, captions: Path) -> list[str]:
        """gst-launch-1.0's arguments: programme → decode → cccombiner (+ the caption data) → x264enc → muxer,
        and the first audio track → AAC → the same muxer."""
        muxer = MUXERS[self.out.suffix.lower()]
        args = [self.launch, "-q", "-e",
                "filesrc", f"location={self.programme.path}", "!", "decodebin", "name=programme",
                "programme.", "!", "queue", "!", "videoconvert", "!", "cccombiner", "name=captions", "!",
                "x264enc", "speed-preset=veryfast", "!", "h264parse", "!", muxer, "name=mux", "!",
                "filesink", f"location={self.out}",
                "filesrc", f"location={captions}", "!", "gdpdepay", "!", "captions.caption"]
        if self.programme.audio_start_s is not None:
            args += ["programme.", "!", "queue", "!", "audioconvert", "!", "audioresample", "!", "avenc_aac", "!",
                     "aacparse", "!", "mux."]
        return args

    def run(self) -> MuxStats:
        """Write the captioned programme; a GStreamer failure is one announced line and counted, never raised."""
        started = time.monotonic()
        start_ns = video_running_start_ns(self.programme, self.launch)
        if start_ns is None:
            self.announce("GStreamer did not say when the programme's video starts: its captions are timed from "
                          "the start of its running time")
        else:
            self.stats.video_running_start_s = start_ns / 1e9
        data, self.stats.caption_frames = cc_data_stream(list(self.channels.values()), self.programme.frame_rate,
                                                         start_ns or 0)
        with tempfile.TemporaryDirectory(prefix="rtvoice-cc-") as folder:
            captions = Path(folder) / "cc_data.gdp"
            captions.write_bytes(data)
            try:
                proc = subprocess.Popen(self.pipeline(captions), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        errors="replace")
            except OSError as error:
                return self._failed(f"GStreamer did not start ({error.strerror or error})", started)
            channels = ", ".join(f"{cc} {language}" for cc, language in self.stats.channels.items())
            self.announce(f"muxing the captions ({channels}) into {self.out} with GStreamer (pid {proc.pid})")
            reader = threading.Thread(target=self._read_stderr, args=(proc.stderr,), daemon=True)
            reader.start()
            try:
                code = proc.wait()
            finally:
                if proc.poll() is None:  # interrupted: the mux goes with rtvoice
                    proc.kill()
                    proc.wait()
            reader.join(timeout=1.0)
        if code != 0 or not self.out.is_file():
            why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            said = f": {self._stderr[-1]}" if self._stderr else ""
            return self._failed(f"GStreamer ended with {why}{said}", started)
        self.stats.mux_seconds = time.monotonic() - started
        self.announce(f"programme with captions ({channels}): {self.out} ({self.stats.mux_seconds:.1f} s to mux)")
        return self.stats

    def _failed(self, why: str, started: float) -> MuxStats:
        self.stats.mux_failures += 1
        self.stats.error = why
        self.stats.mux_seconds = time.monotonic() - started
        state = "is incomplete" if self.out.is_file() else "was not written"
        self.announce(f"the programme mux failed ({why}); {self.out} {state}, the caption files are written "
                      f"(programme mux failures: {self.stats.mux_failures})")
        return self.stats

    def _read_stderr(self, stream) -> None:
        for line in stream:
            if line.strip():
                self._stderr.append(line.strip()[:300])

