"""A live HLS subtitle rendition: WebVTT segments and a sliding media playlist, one folder per language.

The folder gets ``subtitles.m3u8`` (the media playlist), ``seg-NNNNN.vtt`` (segment N covers stream seconds
[N·T, (N+1)·T), T the target duration) and ``subtitles-master.txt``: the ``#EXT-X-MEDIA`` line to add to the
programme's master playlist. Finals only.

Timeline: cue times are stream seconds (from the stream's first sample, as in every rtvoice caption file), and
each segment says ``X-TIMESTAMP-MAP=MPEGTS:<m>,LOCAL:00:00:00.000``: stream second 0 is the programme's MPEG-TS
time ``m`` (90 kHz), so a player lines the cues up with the programme's video by its PTS. ``m`` is
``mpegts_offset_s`` × 90000: 1.4 s by default, where FFmpeg's MPEG-TS and HLS muxers put the first audio sample
(``-muxdelay 0.7``, doubled, without ``-output_ts_offset``); another packager's first PTS is given instead.

Timing of a cue is the SCC writer's choice (rtvoice.captions.scc): a final's text is shown from the moment it
was ready, for a live source its ``emitted_at`` on the source's clock, for a file read as fast as possible the
end of its speech. Its text is all there by then, so its cues (see rtvoice.captions.writers.cues_for) follow
each other at reading pace, not at the pace it was spoken: each is shown until it could be read
(``reading_cps``, a second at least, its spoken length at most), the last one as long as it was spoken. A cue
waits for the cue before only until that one could be read: one still shown then stays, the new one under it
(players stack overlapping cues), so the captions do not fall further behind with every long sentence. A cue
that spans a segment boundary is written in every segment it overlaps, with the same times (players drop the
repeats).

Publishing: a segment is written once its end has passed: for a live source when the source's clock says so
(a thread ticks every 0.1 s, so empty segments, a ``WEBVTT`` header only, keep the playlist at the programme's
pace), for a file when a final ready after its end arrives (or at close). A cue that arrives for a segment
already written (a translation that came late) starts at the first segment not yet written, as long as it was (counted:
``late_cues``). Every file is written whole (a temporary file, then ``os.replace``), a segment before the
playlist that names it, so a player never reads half a file or a name with no file. The playlist keeps the
last ``window`` segments (``#EXT-X-MEDIA-SEQUENCE`` counts the ones slid out; 0 keeps them all, an EVENT
playlist); a segment slid out is deleted one playlist length later (RFC 8216 6.2.2: a client may still be
fetching it). ``close()`` writes the last segments, up to the stream's end and the last cue's end (the last
one shorter), and ``#EXT-X-ENDLIST``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rtvoice.captions.writers import CaptionLayout, Cue, cues_for, format_timestamp, ready_time
from rtvoice.errors import RtvoiceError
from rtvoice.metrics.percentiles import Reservoir

MPEGTS_HZ = 90000
PLAYLIST = "subtitles.m3u8"
MASTER_SNIPPET = "subtitles-master.txt"
SEGMENT_PREFIX = "seg-"


@dataclass(frozen=True)
class HlsVttConfig:
    segment_s: float = 2.0  # target duration of a segment (s)
    window: int = 10  # segments in the live playlist; 0: all of them (an EVENT playlist)
    mpegts_offset_s: float = 1.4  # the programme's MPEG-TS time (s) of stream second 0
    group_id: str = "subs"  # the master playlist's SUBTITLES group
    tick_s: float = 0.1  # how often a live writer looks at the clock (s)
    # A cue waits for the cue before only until that one could be read: its characters at this rate (a second
    # at least, its own length at most); then it is shown under it (WebVTT players stack overlapping cues).
    reading_cps: float = 17.0

    def __post_init__(self):
        if not 0.5 <= self.segment_s <= 30:
            raise ValueError(f"the HLS segment duration must be 0.5-30 s, got {self.segment_s}")
        if self.window < 0:
            raise ValueError(f"the HLS playlist window must be >= 0 segments, got {self.window}")
        if not 0 <= self.mpegts_offset_s < 2 ** 33 / MPEGTS_HZ:
            raise ValueError(f"the MPEG-TS offset must be 0 to 95443 s (33 bits at 90 kHz), got {self.mpegts_offset_s}")
        if not 5 <= self.reading_cps <= 60:
            raise ValueError(f"the reading rate must be 5-60 characters a second, got {self.reading_cps}")

    @property
    def target_duration(self) -> int:
        return math.ceil(self.segment_s)

    @property
    def mpegts(self) -> int:
        return round(self.mpegts_offset_s * MPEGTS_HZ)


def segment_text(cues: list[Cue], mpegts: int) -> str:
    """One WebVTT segment: the header, the timestamp map, the cues (times in stream seconds)."""
    # Every block ends with a blank line, the last too: a reader that joins the segments (FFmpeg's HLS demuxer)
    # would otherwise take the next segment's header for more of the last cue's text.
    parts = [f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n\n"]
    for cue in cues:
        text = "\n".join(line.replace("-->", "->") for line in cue.lines)  # "-->" would end the cue's text
        parts.append(f"{format_timestamp(cue.start, '.')} --> {format_timestamp(cue.end, '.')}\n{text}\n\n")
    return "".join(parts)


def playlist_text(config: HlsVttConfig, first_sequence: int, segments: list[tuple[str, float]], ended: bool) -> str:
    """The media playlist of `segments` ((file name, duration s)), the first numbered `first_sequence`."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{config.target_duration}",
             f"#EXT-X-MEDIA-SEQUENCE:{first_sequence}"]
    if config.window == 0:
        lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
    for name, duration in segments:
        lines += [f"#EXTINF:{duration:.3f},", name]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_media_line(language: str | None, name: str, uri: str, group_id: str = "subs",
                      default: bool = False) -> str:
    """The ``#EXT-X-MEDIA`` tag that adds a subtitle rendition to a master playlist (no LANGUAGE when None:
    captions in whatever language was detected)."""
    tag = "" if language is None else f'LANGUAGE="{language}",'
    return (f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{group_id}",{tag}NAME="{name}",'
            f'DEFAULT={"YES" if default else "NO"},AUTOSELECT=YES,FORCED=NO,URI="{uri}"')


def write_whole(path: Path, text: str) -> None:
    """`text` into `path` so that a reader sees the old file or the new one, never part of one."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(temporary, path)


@dataclass
class _TimedCue:
    cue: Cue
    speech_end: float | None  # the end of its final's speech (s), on its final's first cue only (latency)


class HlsVttWriter:
    """Final captions as a live HLS WebVTT rendition in `directory` (see the module docstring).

    Args:
        directory: the rendition's folder (made if missing; its own earlier files are removed).
        language: the captions' language (ISO 639 code, the master playlist's LANGUAGE; None: not one language,
            --language auto).
        name: the rendition's NAME in the master playlist (default: the language code, else "Captions").
        stream_time: maps a wall time (time.time()) to stream seconds, for a live source (None before the
            source's first sample); None: a file read as fast as possible (finals timed at their speech's end,
            segments written as the finals pass their ends).
        stream_end: stream seconds delivered so far, read at close (the last segment ends there at least).
        config: segment duration, window, MPEG-TS offset.
        layout: line length and lines a cue.
        wall_clock: the wall time now (s, time.time() but in tests), read with stream_time.
    """

    def __init__(self, directory: Path, language: str | None, name: str | None = None,
                 stream_time: Callable[[float], float | None] | None = None,
                 stream_end: Callable[[], float] | None = None, config: HlsVttConfig = HlsVttConfig(),
                 layout: CaptionLayout = CaptionLayout(), wall_clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.language = language
        self.name = name or language or "Captions"
        self.stream_time = stream_time
        self.stream_end = stream_end
        self.config = config
        self.layout = layout
        self.wall_clock = wall_clock
        self.cues = 0
        self.late_cues = 0  # cues moved later: their segment was already written
        self.segments = 0  # segments written
        self.after_speech_end = Reservoir()  # s from a final's speech end to the writing of its first cue's segment
        self._pending: list[_TimedCue] = []  # cues not yet in every segment they overlap
        self._next = 0  # the next segment to write
        self._ready = 0.0  # the latest ready time seen (file: the stream time reached)
        self._read_by = 0.0  # when the last cue has been shown long enough to read (the next may start then)
        self._listed: deque[tuple[str, float]] = deque()  # the playlist's segments
        self._first_sequence = 0
        self._retired: deque[tuple[int, str]] = deque()  # (segment number when to delete, file name)
        self._closed = False
        self._error: RtvoiceError | None = None  # the ticker's failure, raised at close
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for old in self.directory.glob(f"{SEGMENT_PREFIX}*.vtt"):
                old.unlink()
            write_whole(self.directory / MASTER_SNIPPET, self.master_snippet())
            self._write_playlist(ended=False)
        except OSError as error:
            raise RtvoiceError(f"cannot write the HLS subtitles into {self.directory}: "
                               f"{error.strerror or error}") from error
        self._stop = threading.Event()
        self._ticker = None
        if stream_time is not None:
            self._ticker = threading.Thread(target=self._tick, name=f"hls-vtt-{language or 'auto'}",
                                            daemon=True)
            self._ticker.start()

    def master_snippet(self) -> str:
        """The text of ``subtitles-master.txt``: the media tag (its URI relative to the folder's parent, where
        the programme's master playlist is expected) and how the variants name the group."""
        uri = f"{self.directory.name}/{PLAYLIST}"
        return ("# Add to the programme's master playlist (the URI is relative to it), and SUBTITLES=\""
                f"{self.config.group_id}\" to each #EXT-X-STREAM-INF line:\n"
                + master_media_line(self.language, self.name, uri, self.config.group_id) + "\n")

    # --- captions in ---------------------------------------------------------------------------------------

    def ready_time(self, event) -> float:
        """Stream seconds at which the final's text was ready (rtvoice.captions.writers.ready_time)."""
        return ready_time(event, self.stream_time)

    def write(self, event) -> None:
        if not event.is_final:
            return
        cues = event.cues(self.layout) if hasattr(event, "cues") else cues_for(event, self.layout)
        if not cues:
            return
        ready = self.ready_time(event)
        with self._lock:
            if self._closed:
                return
            open_from = self._next * self.config.segment_s  # the start of the first segment not written
            start = max(ready, self._read_by)
            for i, cue in enumerate(cues):
                shown = max(cue.end - cue.start, 0.3)  # 0.3 s at least, as the SRT and VTT writers
                read = self.reading_time(cue.lines, shown)
                # The next cue of this final comes once this one is read: this one ends there.
                end = start + (shown if i == len(cues) - 1 else read)
                if start < open_from:  # its segment is out already: it starts in the next one, as long
                    self.late_cues += 1
                    end, start = open_from + (end - start), open_from
                self._pending.append(_TimedCue(Cue(start, end, cue.lines), event.end if i == 0 else None))
                self._read_by = start + read
                start = self._read_by
                self.cues += 1
            self._ready = max(self._ready, ready)
            if self.stream_time is None:  # a file: every cue to come starts after this one was ready
                self._publish_until(ready)

    def reading_time(self, lines: tuple[str, ...], shown_s: float) -> float:
        """Seconds a cue of these lines takes to read: at ``reading_cps``, a second at least, `shown_s` at most."""
        return min(shown_s, max(1.0, sum(len(line) for line in lines) / self.config.reading_cps))

    # --- segments out ----------------------------------------------------------------------------------------

    def _now(self, default: float) -> float:
        """Stream seconds now (live), else `default` (a file: a segment counts as out at its end)."""
        now = None if self.stream_time is None else self.stream_time(self.wall_clock())
        return default if now is None else now

    def _tick(self) -> None:
        while not self._stop.wait(self.config.tick_s):
            now = self.stream_time(self.wall_clock())
            if now is None:
                continue
            with self._lock:
                if self._closed:
                    return
                try:
                    self._publish_until(now)
                except RtvoiceError as error:  # said at close (the captions' own thread ends then)
                    self._error = error
                    return

    def _publish_until(self, now: float, last: bool = False) -> None:
        """Write every segment that has ended by stream second `now`; `last`: and the one `now` falls in,
        cut short there."""
        length = self.config.segment_s
        while (self._next + 1) * length <= now + 1e-9 or (last and self._next * length < now - 1e-9):
            start = self._next * length
            end = min(start + length, now) if last else start + length
            inside = [c for c in self._pending if c.cue.start < end and c.cue.end > start]
            published = self._now(default=end)
            for c in inside:
                if c.speech_end is not None:
                    self.after_speech_end.append(max(published, c.cue.start) - c.speech_end)
                    c.speech_end = None
            self._publish(self._next, end - start, [c.cue for c in inside])
            self._pending = [c for c in self._pending if c.cue.end > end]
            self._next += 1

    def _publish(self, number: int, duration: float, cues: list[Cue]) -> None:
        name = f"{SEGMENT_PREFIX}{number:05d}.vtt"
        try:
            write_whole(self.directory / name, segment_text(cues, self.config.mpegts))
            self._listed.append((name, duration))
            window = self.config.window
            while window and len(self._listed) > window:
                gone, _ = self._listed.popleft()
                self._first_sequence += 1
                self._retired.append((number + window, gone))
            self._write_playlist(ended=False)
            while self._retired and self._retired[0][0] <= number:
                (self.directory / self._retired.popleft()[1]).unlink(missing_ok=True)
        except OSError as error:
            raise RtvoiceError(f"cannot write the HLS subtitles into {self.directory}: "
                               f"{error.strerror or error}") from error
        self.segments += 1

    def _write_playlist(self, ended: bool) -> None:
        write_whole(self.directory / PLAYLIST,
                    playlist_text(self.config, self._first_sequence, list(self._listed), ended))

    def stats(self) -> dict:
        return {"segments": self.segments, "cues": self.cues, "late_cues": self.late_cues,
                "media_sequence": self._first_sequence,
                "cue_after_speech_end_s": self.after_speech_end.summary()}

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._error is not None:
                raise self._error
            end = max(self._ready, self._now(default=0.0))
            if self.stream_end is not None:
                end = max(end, self.stream_end())
            end = max([end] + [c.cue.end for c in self._pending])
            self._publish_until(end, last=True)
            for _, name in self._retired:
                (self.directory / name).unlink(missing_ok=True)
            self._retired.clear()
            try:
                self._write_playlist(ended=True)
            except OSError as error:
                raise RtvoiceError(f"cannot write the HLS subtitles into {self.directory}: "
                                   f"{error.strerror or error}") from error
