"""Network feeds as a source: SRT, RTMP, RTSP, HLS and MPEG-TS over UDP, read through FFmpeg.

A :class:`FeedSource` runs Debian's ``ffmpeg`` as a child process (``-i URL -map 0:a:N -ac 1 -ar 16000 -f s16le
pipe:1``, with small probe sizes so the first audio comes quickly) and reads its standard
output on a worker thread into the front end's ring, like the other sources (rtvoice.audio.sources). FFmpeg
does the demuxing, decoding, downmix and resampling; its standard error is kept (its last lines go into every
error message).

Listening: ``listen=True`` makes rtvoice the server a sender pushes to: RTMP (``-listen 1``: OBS or FFmpeg
"stream" to ``rtmp://HOST:PORT/APP/KEY``), RTSP (``-rtsp_flags listen``: FFmpeg's ``-f rtsp`` pushes), SRT
(``mode=listener`` added to the URL; it may be given in the URL itself). UDP is always received on the URL's
local port.

Connecting: :meth:`FeedSource.connect` starts FFmpeg and returns once the first audio has arrived, so a feed that
never starts, or that has no audio track, is one clear :class:`~rtvoice.errors.FeedError` before any model is
loaded. A failure that retrying cannot mend (no such audio track, an unknown protocol, a malformed URL) is
reported at once; any other (connection refused, nothing received) is retried with back-off until
``connect_timeout_s``. Audio that arrives before :meth:`start` (while the models load) is kept and handed over
when the source starts, its capture times already on the clock.

Drops and the timeline: once audio has flowed, FFmpeg exiting (the sender went away, the connection broke) or
delivering nothing for ``stall_timeout_s`` is a drop: it is announced, counted, and FFmpeg is started again with
back-off (0.5, 1, 2, 4, 8 s between attempts that fail at once). While the feed is away the source writes silence
at the wall clock's pace, so the stream's time keeps following the wall clock from the feed's first sample: a
caption after a gap is timed where its speech was in the programme (its stream seconds are the seconds since
the feed first started), the caption in flight at the drop is closed by the silence and written rather than
held until the feed returns, and nothing delivered before the drop is lost. Each gap (from the last audio before
the drop to the first after it) is counted with its duration (``stats``: ``feed_drops``, ``feed_gaps``,
``feed_gap_seconds``, ``feed_gap_max_s`` and the last 100 gaps with their stream times). A feed that stays away
for ``reconnect_for_s`` ends the input normally (the captions are finished and written).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import numpy as np

from rtvoice.audio.sources import SAMPLE_RATE, Source, SourceStats
from rtvoice.errors import FeedError

FEED_SCHEMES = ("srt", "rtmp", "rtmps", "rtsp", "rtsps", "http", "https", "udp", "rtp", "tcp")
LISTEN_SCHEMES = ("srt", "rtmp", "rtsp")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits between attempts that fail at once
_BYTES_PER_SAMPLE = 2  # s16le from FFmpeg
_READ_BYTES = 6400  # 0.2 s of 16 kHz s16le at most a read
_TICK_S = 0.05  # the worker's longest wait for FFmpeg's output before it looks at the clock again
_GAPS_KEPT = 100
# FFmpeg failures that retrying cannot mend (the feed is there but unusable, or the request is malformed).
_PERMANENT = re.compile(r"matches no streams|Protocol not found|Invalid argument|Option not found|"
                        r"Unrecognized option|No such file or directory|Invalid data found", re.I)


def is_feed_url(text: str | None) -> bool:
    """True for scheme://… with a scheme FFmpeg reads as a live feed (see FEED_SCHEMES)."""
    if not text or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in FEED_SCHEMES


@dataclass(frozen=True)
class FeedConfig:
    """How a network feed is read (seconds).

    url: srt://, rtmp(s)://, rtsp(s)://, http(s)://….m3u8 (HLS), udp:// (MPEG-TS), rtp://, tcp://.
    audio_track: which audio stream (0: the first), FFmpeg's ``-map 0:a:N``.
    listen: be the server the sender pushes to (RTMP, RTSP; SRT adds mode=listener to the URL).
    connect_timeout_s: the first audio must arrive within this (default: 10 s, 60 s listening).
    stall_timeout_s: once audio flows, this long without any is a drop (default: 5 s, 20 s for HLS, whose
        audio comes a segment at a time).
    reconnect_for_s: after a drop, keep trying this long before ending the input (inf: until stopped).
    """

    url: str
    audio_track: int = 0
    listen: bool = False
    connect_timeout_s: float | None = None
    stall_timeout_s: float | None = None
    reconnect_for_s: float = 30.0

    def __post_init__(self):
        if not is_feed_url(self.url):
            raise FeedError(f"{self.url!r} is not a feed URL ({', '.join(s + '://' for s in FEED_SCHEMES)})")
        if not isinstance(self.audio_track, int) or self.audio_track < 0:
            raise FeedError(f"--audio-track must be a whole number >= 0, got {self.audio_track!r}")
        if self.listen and self.scheme not in LISTEN_SCHEMES:
            raise FeedError(f"--listen works for {', '.join(s + '://' for s in LISTEN_SCHEMES)} feeds, not "
                            f"{self.scheme}:// (a udp:// feed is always received on its local port)")
        for name in ("connect_timeout_s", "stall_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise FeedError(f"{name.replace('_s', '').replace('_', '-')} must be > 0 s, got {value}")
        if not self.reconnect_for_s >= 0:
            raise FeedError(f"--reconnect-for must be >= 0 s, got {self.reconnect_for_s}")

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0].lower()

    @property
    def redacted_url(self) -> str:
        """The URL without its password or SRT passphrase (for messages and events)."""
        return _redact(self.url)

    @property
    def hls(self) -> bool:
        return self.scheme in ("http", "https") and ".m3u8" in urlsplit(self.url).path.lower()

    @property
    def listening(self) -> bool:
        """rtvoice is the server: --listen, or an SRT URL with mode=listener."""
        return self.listen or (self.scheme == "srt" and "mode=listener" in self.url)

    @property
    def connect_timeout(self) -> float:
        return self.connect_timeout_s or (60.0 if self.listening else 10.0)

    @property
    def stall_timeout(self) -> float:
        return self.stall_timeout_s or (20.0 if self.hls else 5.0)

    def input_url(self) -> str:
        if self.scheme == "srt" and self.listen and "mode=" not in self.url:
            return self.url + ("&" if "?" in self.url else "?") + "mode=listener"
        return self.url

    def ffmpeg_command(self, ffmpeg: str = "ffmpeg") -> list[str]:
        """FFmpeg reading the feed and writing its audio track as 16 kHz mono s16le to standard output."""
        command = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
                   # a short probe: a live feed's layout is known from its first packets (HLS reads a segment
                   # whatever these say). Not -fflags nobuffer: it throws away the packets read while probing,
                   # the first second of speech.
                   "-probesize", "65536", "-analyzeduration", "500000"]
        scheme = self.scheme
        if scheme in ("rtmp", "rtmps") and self.listen:
            command += ["-listen", "1"]
        elif scheme in ("rtsp", "rtsps"):
            command += ["-rtsp_flags", "listen"] if self.listen else ["-rtsp_transport", "tcp"]
        elif scheme in ("http", "https"):
            command += ["-rw_timeout", str(int(self.stall_timeout * 1e6))]
        return command + ["-i", self.input_url(), "-map", f"0:a:{self.audio_track}", "-vn", "-sn", "-dn",
                          "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]


@dataclass
class FeedStats(SourceStats):
    feed_connects: int = 0  # FFmpeg runs that delivered audio (the first connection and every reconnection)
    feed_drops: int = 0  # times the feed went away after audio had flowed
    feed_gaps: int = 0  # drops the feed came back from (the gap is over)
    feed_gap_seconds: float = 0.0  # the time those gaps lasted, in all (filled with silence)
    feed_gap_max_s: float = 0.0
    feed_silence_samples: int = 0  # 16 kHz samples of silence written while the feed was away
    feed_attempts: int = 0  # FFmpeg runs started, those that failed included
    feed_ended: str = ""  # why the input ended: "" (stopped), or "gone for N s after a drop"
    gaps: list = field(default_factory=list)  # the last 100: {"at_s": stream seconds, "duration_s"}


class FeedSource(Source):
    """A network feed read through FFmpeg (see the module docstring).

    Args:
        config: the feed.
        announce: called with one-line messages (waiting, connected, dropped, back, ended); default: printed
            on standard error.
        ffmpeg: the FFmpeg binary.
        on_change: called with (state, details) as the feed connects ("connected"), drops ("lost": at_s, the
            stream time of the last audio, drops, why), comes back ("back": gap_s, at_s, gaps) and ends
            ("ended": why); the server turns these into events (rtvoice.server.session).
    """

    name = "feed"
    live = True
    PENDING_MAX_S = 60.0  # audio kept before start() (the models loading); beyond it the oldest is dropped

    def __init__(self, config: FeedConfig, announce: Callable[[str], None] | None = None,
                 ffmpeg: str | None = None, on_change: Callable[[str, dict], None] | None = None):
        super().__init__()
        self.on_change = on_change or (lambda state, details: None)
        self.config = config
        self.stats = FeedStats()
        self.announce = announce or (lambda line: (sys.stderr.write(f"rtvoice: {line}\n"), sys.stderr.flush()))
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg")
        if self.ffmpeg is None:
            raise FeedError("network feeds are read through FFmpeg, which is not installed "
                            "(apt-get install ffmpeg, or make setup)")
        self._lock = threading.Lock()
        self._pending: list[np.ndarray] = []  # audio read before start()
        self._pending_samples = 0
        self._connected = threading.Event()  # the first audio has arrived
        self._proc: subprocess.Popen | None = None
        self._stderr_tail: deque[str] = deque(maxlen=12)
        self._audio_streams = 0  # audio streams FFmpeg listed in the input (its last run)
        self._streams: list[str] = []  # the input's stream lines (kinds), for the no-audio message
        self._samples = 0  # 16 kHz samples read from FFmpeg or written as gap silence (the stream position)
        self._outage_since: float | None = None  # monotonic time of the last audio before a drop (None: no drop)
        self._outage_at_s = 0.0  # its stream time
        self._last_audio = 0.0

    def describe(self) -> str:
        mode = ", listening" if self.config.listening else ""
        return f"feed {_redact(self.config.url)} (audio track {self.config.audio_track}{mode}, via FFmpeg)"

    # --- life cycle ------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Start reading; return once the first audio has arrived (FeedError if it does not). Audio read
        until start() is kept for it."""
        if self._thread is not None:
            return
        if self.config.listening:
            self.announce(f"listening on {_redact(self.config.input_url())}, waiting for a sender")
        else:
            self.announce(f"connecting to {_redact(self.config.url)}")
        self._thread = threading.Thread(target=self._run_guarded, name="rtvoice-feed", daemon=True)
        self._thread.start()
        try:
            while not self._connected.wait(0.1):
                if self._done.is_set():
                    raise self.error or FeedError(f"{self.describe()}: ended before any audio")
        except BaseException:
            self.close()
            raise

    def start(self, out) -> None:
        if out.channels != 1:
            raise ValueError("the output ring buffer must be mono")
        if self._thread is None:
            self.connect()
        with self._lock:
            self._out = out  # the worker hands the pending audio over on its next turn
        if self._done.is_set():  # the feed came and went while the models loaded: nothing else writes now
            self._flush_pending()

    def end(self) -> None:
        """No more audio wanted (the server's client went away): FFmpeg is stopped at once (a
        listener waiting for a sender would otherwise outlive a server shutting down), what was read is kept."""
        self.stop()
        self._kill()

    def close(self) -> None:
        """Stop FFmpeg and the worker (a source connected but never started, or on the way out)."""
        self.stop()
        self.join(5)
        self._kill()

    def _close(self) -> None:
        self._kill()

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    # --- the worker ------------------------------------------------------------------------------------

    def _run(self) -> None:
        config = self.config
        started = time.monotonic()
        self._last_audio = started
        failures = 0  # attempts in a row that delivered nothing
        while not self._stop.is_set():
            got_audio, why = self._read_one_run()
            if self._stop.is_set() or why == "gave up":
                break
            if got_audio and config.hls and self._exit_code == 0:
                # FFmpeg's HLS demuxer reloads a live playlist until #EXT-X-ENDLIST: this is the programme's end
                self.stats.feed_ended = "the playlist ended"
                self.announce("the HLS playlist ended (#EXT-X-ENDLIST)")
                self.on_change("ended", {"why": self.stats.feed_ended})
                break
            failures = 0 if got_audio else failures + 1
            if not self._connected.is_set():
                tail = self._ffmpeg_said()
                if _PERMANENT.search(tail) or time.monotonic() - started >= config.connect_timeout:
                    raise self._never_started(why, tail)
            elif got_audio:  # it was flowing: a drop
                self.stats.feed_drops += 1
                self._outage_since = self._last_audio
                self._outage_at_s = self._samples / SAMPLE_RATE  # the stream time of the last audio
                self.announce(f"feed lost after {self._samples / SAMPLE_RATE:.1f} s ({why}); reconnecting "
                              f"(drop {self.stats.feed_drops})")
                self.on_change("lost", {"at_s": round(self._outage_at_s, 3), "drops": self.stats.feed_drops,
                                        "why": why})
            wait_until = time.monotonic() + (BACKOFF_S[min(failures, len(BACKOFF_S)) - 1] if failures else 0.0)
            while time.monotonic() < wait_until and not self._stop.is_set():
                if self._tick():
                    break
                time.sleep(_TICK_S)
            if self._given_up():
                break
        self._flush_pending()

    def _read_one_run(self) -> tuple[bool, str]:
        """Start FFmpeg and read it until it ends, stalls or the source stops: (whether it gave audio, why
        it ended)."""
        self.stats.feed_attempts += 1
        self._stderr_tail.clear()
        self._audio_streams, self._streams = 0, []
        self._exit_code = None
        try:
            proc = subprocess.Popen(self.config.ffmpeg_command(self.ffmpeg), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as error:
            raise FeedError(f"cannot run {self.ffmpeg}: {error.strerror or error}") from error
        self._proc = proc
        errors = threading.Thread(target=self._read_stderr, args=(proc.stderr,), name="rtvoice-feed-stderr",
                                  daemon=True)
        errors.start()
        fd = proc.stdout.fileno()
        odd = b""  # half a sample left from the last read
        got_audio = False
        last = run_started = time.monotonic()
        why = ""
        try:
            while True:
                if self._stop.is_set():
                    why = "stopped"
                    break
                ready, _, _ = select.select([fd], [], [], _TICK_S)
                now = time.monotonic()
                if ready:
                    chunk = os.read(fd, _READ_BYTES)
                    if not chunk:
                        why = self._exit_reason(proc)
                        break
                    data = odd + chunk
                    usable = len(data) - len(data) % _BYTES_PER_SAMPLE
                    odd = data[usable:]
                    if usable:
                        if not got_audio:
                            got_audio = True
                            self._on_audio_again()
                        self._take(np.frombuffer(data[:usable], "<i2").astype(np.float32) / np.float32(32768))
                        last = self._last_audio = now
                if self._tick():
                    why = "gave up"
                    break
                if got_audio and now - last > self.config.stall_timeout:
                    why = f"no audio for {self.config.stall_timeout:g} s"
                    break
                if not got_audio and now - run_started >= self.config.connect_timeout:
                    # (listening, this restarts the listener; pulling, a connection that hangs is tried again)
                    why = f"no audio within {self.config.connect_timeout:g} s"
                    break
        finally:
            self._kill()
            errors.join(2)
        return got_audio, why

    def _take(self, samples: np.ndarray) -> None:
        """Audio from FFmpeg: onto the clock as it arrives, then into the ring (or kept until start())."""
        self._samples += len(samples)
        self.stats.input_frames += len(samples)
        self.clock.observe(self._samples)
        self._hand_over(samples)

    def _hand_over(self, samples: np.ndarray) -> None:
        with self._lock:
            started = self._out is not None
        if not started:
            self._pending.append(samples)
            self._pending_samples += len(samples)
            while self._pending_samples > self.PENDING_MAX_S * SAMPLE_RATE:
                oldest = self._pending.pop(0)
                self._pending_samples -= len(oldest)
                self.stats.dropped += len(oldest)
            return
        self._flush_pending()
        # The front end's worker drains its ring at once (native code): waiting for space only absorbs a burst
        # (HLS gives a segment at a time); FFmpeg and the socket buffer the feed meanwhile.
        self._deliver(samples, wait=True)

    def _flush_pending(self) -> None:
        with self._lock:
            if self._out is None or not self._pending:
                return
            pending, self._pending, self._pending_samples = self._pending, [], 0
        self._deliver(np.concatenate(pending), wait=True)

    def _on_audio_again(self) -> None:
        """The first audio of an FFmpeg run: connected, or back after a drop."""
        self.stats.feed_connects += 1
        if not self._connected.is_set():
            self._connected.set()
            if self.config.listening:
                self.announce("a sender connected")
            self.on_change("connected", {})
            return
        if self._outage_since is not None:
            gap = time.monotonic() - self._outage_since
            self.stats.feed_gaps += 1
            self.stats.feed_gap_seconds = round(self.stats.feed_gap_seconds + gap, 3)
            self.stats.feed_gap_max_s = round(max(self.stats.feed_gap_max_s, gap), 3)
            self.stats.gaps = (self.stats.gaps + [{"at_s": round(self._outage_at_s, 3),
                                                   "duration_s": round(gap, 3)}])[-_GAPS_KEPT:]
            self.announce(f"feed back after a {gap:.1f} s gap (reconnection {self.stats.feed_gaps})")
            self.on_change("back", {"gap_s": round(gap, 3), "at_s": round(self._outage_at_s, 3),
                                    "gaps": self.stats.feed_gaps})
            self._outage_since = None

    def _tick(self) -> bool:
        """While the feed is away: silence up to now on the stream's timeline; True once it has been away for
        reconnect_for_s (the input then ends)."""
        self._flush_pending()
        if self._outage_since is None or self.clock.anchor is None:
            return False
        behind = int((time.time() - self.clock.anchor) * SAMPLE_RATE) - self._samples
        if behind > 0:
            self._samples += behind
            self.stats.feed_silence_samples += behind
            self._hand_over(np.zeros(behind, np.float32))
        return self._given_up()

    def _given_up(self) -> bool:
        if self._outage_since is None:
            return False
        away = time.monotonic() - self._outage_since
        if away < self.config.reconnect_for_s:
            return False
        if not self.stats.feed_ended:
            self.stats.feed_ended = f"gone for {away:.1f} s after drop {self.stats.feed_drops}"
            self.announce(f"feed gone for {away:.1f} s, ending the input (--reconnect-for "
                          f"{self.config.reconnect_for_s:g})")
            self.on_change("ended", {"why": self.stats.feed_ended})
        return True

    # --- FFmpeg's messages ---------------------------------------------------------------------------

    def _read_stderr(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            kind = re.match(r"Stream #0:\d+.*?: (Audio|Video|Subtitle|Data)", line)
            if kind:
                self._streams.append(kind.group(1))
                self._audio_streams += kind.group(1) == "Audio"
            self._stderr_tail.append(line)
        stream.close()

    def _ffmpeg_said(self) -> str:
        return " | ".join(list(self._stderr_tail)[-4:])

    def _exit_reason(self, proc: subprocess.Popen) -> str:
        try:
            code = self._exit_code = proc.wait(2)
        except subprocess.TimeoutExpired:
            return "FFmpeg closed its output"
        return f"FFmpeg exited with code {code}"

    def _never_started(self, why: str, tail: str) -> FeedError:
        config = self.config
        if "matches no streams" in tail:
            if self._streams:
                found = (f"{self._audio_streams} audio track(s), so --audio-track 0..{self._audio_streams - 1}"
                         if self._audio_streams else f"no audio track (its streams: {', '.join(self._streams)})")
                return FeedError(f"{_redact(config.url)} has {found}")
            return FeedError(f"{_redact(config.url)} has no audio track {config.audio_track}")
        said = f" (FFmpeg: {tail})" if tail else ""
        return FeedError(f"no audio from {_redact(config.url)}: {why}{said}")


def _redact(url: str) -> str:
    """The URL without a password or an SRT passphrase, for messages."""
    url = re.sub(r"(passphrase|password|streamid|key)=[^&]*", r"\1=…", url)
    return re.sub(r"//([^/@:]+):[^/@]+@", r"//\1:…@", url)
