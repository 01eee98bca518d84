"""Caption writers: terminal, SubRip (.srt), WebVTT (.vtt) and JSON Lines.

Every writer takes :class:`~rtvoice.asr.streaming.CaptionEvent` objects through ``write(event)`` and is
closed with ``close()``. SRT and VTT files get one or more cues per final caption, written and flushed as
soon as the final arrives, so the file is valid whenever the process stops. JSONL gets every event (partial
and final), one JSON object a line, each line written whole.

Long captions are wrapped for reading: at most ``max_chars`` characters a line and ``max_lines`` lines a
cue (42 and 2 by default, the usual broadcast figures); a longer final becomes several cues, timed by its
words.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from rtvoice.errors import RtvoiceError


@dataclass(frozen=True)
class CaptionLayout:
    max_chars: int = 42  # characters a line
    max_lines: int = 2  # lines a cue

    def __post_init__(self):
        if self.max_chars < 8:
            raise ValueError(f"max_chars must be >= 8, got {self.max_chars}")
        if self.max_lines < 1:
            raise ValueError(f"max_lines must be >= 1, got {self.max_lines}")


@dataclass(frozen=True)
class Cue:
    start: float  # stream seconds
    end: float
    lines: tuple[str, ...]


class CaptionSink(Protocol):
    def write(self, event) -> None: ...

    def close(self) -> None: ...


def wrap_words(words: list[str], max_chars: int) -> list[list[str]]:
    """Greedy line filling; a word longer than a line gets a line of its own, split if it must be."""
    lines: list[list[str]] = []
    length = 0
    for word in words:
        while len(word) > max_chars:
            if lines and lines[-1] == []:
                lines.pop()
            lines.append([word[:max_chars]])
            word = word[max_chars:]
            length = max_chars
        if lines and length + 1 + len(word) <= max_chars:
            lines[-1].append(word)
            length += 1 + len(word)
        else:
            lines.append([word])
            length = len(word)
    return lines


def cues_for(event, layout: CaptionLayout = CaptionLayout()) -> list[Cue]:
    """The cues of a final caption: its words wrapped into lines, lines grouped into cues of
    ``layout.max_lines``; each cue lasts from its first word's start to its last word's end."""
    if event.words:
        texts = [w.text.strip() for w in event.words if w.text.strip()]
        timed = [w for w in event.words if w.text.strip()]
    else:
        texts = event.text.split()
        timed = []
    if not texts:
        return []
    lines = wrap_words(texts, layout.max_chars)
    cues = []
    index = 0
    for first in range(0, len(lines), layout.max_lines):
        group = lines[first:first + layout.max_lines]
        count = sum(len(line) for line in group)
        if timed:
            start, end = timed[index].start, timed[index + count - 1].end
        else:  # no word times: share the caption's span by characters
            total = sum(len(t) for t in texts)
            done = sum(len(t) for t in texts[:index])
            span = event.end - event.start
            start = event.start + span * done / total
            end = event.start + span * (done + sum(len(t) for t in texts[index:index + count])) / total
        cues.append(Cue(start, end, tuple(" ".join(line) for line in group)))
        index += count
    return cues


def format_timestamp(seconds: float, separator: str) -> str:
    """hh:mm:ss<separator>mmm (SRT uses ',', WebVTT '.')."""
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _open_output(path: Path, line_buffered: bool = False) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8", newline="\n", buffering=1 if line_buffered else -1)
    except OSError as error:
        raise RtvoiceError(f"cannot write captions to {path}: {error.strerror or error}") from error


class _CueFileWriter:
    """Shared part of SRT and VTT: cues in time order, never overlapping, flushed at each final."""

    separator = ","
    min_duration_s = 0.3  # a cue is shown for at least this long

    def __init__(self, path: Path, layout: CaptionLayout = CaptionLayout(), offset_s: float = 0.0):
        self.path = Path(path)
        self.layout = layout
        self.offset_s = offset_s  # cue times shifted by this (s): a programme that goes out late
        self._file = _open_output(self.path)
        self._count = 0
        self._last_end = 0.0
        self._header()

    def _header(self) -> None:
        pass

    def _cue_text(self, number: int, start: str, end: str, lines: tuple[str, ...]) -> str:
        raise NotImplementedError

    def write(self, event) -> None:
        if not event.is_final or self._file.closed:
            return
        # a translated caption brings its own cues (its source's, see rtvoice.captions.translated)
        cues = event.cues(self.layout) if hasattr(event, "cues") else cues_for(event, self.layout)
        for cue in cues:
            start = max(cue.start + self.offset_s, self._last_end)
            end = max(cue.end + self.offset_s, start + self.min_duration_s)
            self._count += 1
            self._file.write(self._cue_text(self._count, format_timestamp(start, self.separator),
                                            format_timestamp(end, self.separator), cue.lines))
            self._last_end = end
        if cues:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


class SrtWriter(_CueFileWriter):
    """SubRip: numbered cues, ``hh:mm:ss,mmm --> hh:mm:ss,mmm``, blank line after each."""

    separator = ","

    def _cue_text(self, number, start, end, lines):
        return f"{number}\n{start} --> {end}\n" + "\n".join(lines) + "\n\n"


class VttWriter(_CueFileWriter):
    """WebVTT: ``WEBVTT`` header, cues ``hh:mm:ss.mmm --> hh:mm:ss.mmm``, blank line after each."""

    separator = "."

    def _header(self) -> None:
        self._file.write("WEBVTT\n\n")
        self._file.flush()

    def _cue_text(self, number, start, end, lines):
        # A cue's text must not contain "-->"; Whisper text never should, but make sure.
        return f"{start} --> {end}\n" + "\n".join(line.replace("-->", "->") for line in lines) + "\n\n"


class JsonlWriter:
    """One JSON object a line for every event (see CaptionEvent.to_dict); lines are written whole.

    ``language``: when given, every event without a language of its own gets this one (the source
    language; a translated caption carries its target language).
    """

    def __init__(self, path: Path, language: str | None = None):
        self.path = Path(path)
        self.language = language
        self._file = _open_output(self.path, line_buffered=True)
        self._lock = threading.Lock()  # records come from the voice's thread too (write_record)

    def write(self, event) -> None:
        self.write_record(event.to_dict())

    def write_record(self, record: dict) -> None:
        """One record that is not a caption (e.g. a dubbed line the voice condensed or dropped: voice_lag)."""
        with self._lock:
            if not self._file.closed:
                if self.language is not None:
                    record.setdefault("language", self.language)
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()


class TerminalWriter:
    """Captions on a terminal.

    On a TTY the current partial is rewritten in place on one line (committed text plain, unstable text
    dim, the end kept when it is wider than the terminal) and each final is printed wrapped. Anywhere
    else (a pipe, a file) each final is one plain line and partials are not printed.
    """

    DIM = "\x1b[2m"
    RESET = "\x1b[0m"
    CLEAR = "\r\x1b[K"

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None,
                 layout: CaptionLayout = CaptionLayout(), timestamps: bool = False):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.layout = layout
        self.timestamps = timestamps
        self._partial_shown = False
        self._lock = threading.Lock()  # translated captions arrive from the translation worker

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((80, 24)).columns - 1)

    def write(self, event) -> None:
        with self._lock:
            if event.is_final:
                self._final(event)
            elif self.tty:
                self._partial(event)

    def _partial(self, event) -> None:
        committed, unstable = event.committed, event.unstable
        width = self._width()
        total = len(committed) + (1 if committed and unstable else 0) + len(unstable)
        if total > width:  # keep the newest words in view
            cut = total - width + 1
            joined = (committed + " " + unstable) if committed and unstable else committed + unstable
            tail = "…" + joined[cut:]
            committed_len = max(0, len(committed) - cut + 1)
            committed, unstable = tail[:committed_len], tail[committed_len:].lstrip()
        gap = " " if committed and unstable else ""
        self.stream.write(f"{self.CLEAR}{committed}{gap}{self.DIM}{unstable}{self.RESET}")
        self.stream.flush()
        self._partial_shown = True

    def _final(self, event) -> None:
        text = event.text.strip()
        if text and hasattr(event, "source_language"):  # a translation: its language first
            text = f"[{event.language}] {text}"
        if self.tty:
            self.stream.write(self.CLEAR)
            self._partial_shown = False
            if text:
                for line in wrap_words(text.split(), max(self.layout.max_chars, 8)):
                    self.stream.write(" ".join(line) + "\n")
        elif text:
            prefix = (f"[{format_timestamp(event.start, '.')} --> {format_timestamp(event.end, '.')}] "
                      if self.timestamps else "")
            self.stream.write(prefix + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._partial_shown:
            self.stream.write(self.CLEAR)
            self.stream.flush()


class CaptionFanout:
    """Hands each event to several sinks; closing closes them all (each even if another fails)."""

    def __init__(self, sinks: list):
        self.sinks = list(sinks)

    def write(self, event) -> None:
        for sink in self.sinks:
            sink.write(event)

    def close(self) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.close()
            except OSError as error:
                errors.append(error)
        if errors:
            raise RtvoiceError(f"closing caption outputs failed: {errors[0]}")


def ready_time(event, stream_time) -> float:
    """Stream seconds at which a final's text was ready: its ``emitted_at`` (wall clock) mapped by
    ``stream_time`` (a live source's clock; None, or a None result: no clock) and never before the end of its
    speech; the end of its speech otherwise (a file read as fast as possible: as if recognised at once)."""
    if stream_time is not None:
        t = stream_time(event.emitted_at)
        if t is not None:
            return max(t, event.end)
    return event.end
