"""Scenarist SCC files of live roll-up CEA-608 captions (rtvoice.captions.cea608).

Each final caption is wrapped at 32 columns and sent as one burst (one SCC line): for each of its lines
``RU CR PAC text`` (rtvoice.captions.cea608.Cea608Encoder.line). Finals only: partials are not painted (a
608 roll-up row cannot be rewritten once sent, short of backspacing over it, which costs bandwidth the live
text needs).

Timing: a burst's time is when its text was ready, on the stream's timeline (seconds from the stream's first
sample): for a live source the final's ``emitted_at`` (wall clock) mapped through the source's clock, so the
file shows the caption when a live encoder would have sent it; for a file read as fast as possible, the end of
the caption's speech (as if recognised at once). The 608 channel carries one byte pair a frame (29.97 frames/s):
a burst of n pairs takes n frames, and a burst due while the one before is still going out waits for it (counted
in ``delayed`` with the frames waited). Timecodes are SMPTE drop-frame (``HH:MM:SS;FF``, 29.97 fps), which
keeps to the wall clock (non-drop drifts 3.6 s an hour). A caption that is followed by nothing for
``clear_after_s`` is cleared (erase displayed memory), and so is the last one at close.

SCC holds field 1 only (CC1/CC2): each language gets a file of its own on CC1, what a caption encoder or a
muxer takes per channel (a muxer putting the translation on CC3 moves its pairs to field 2, whose
miscellaneous control codes differ: Cea608Encoder(channel=3) writes them). The timing is RollUpCaptions',
shared with the channels muxed into a video programme (rtvoice.captions.program: CC1 and CC3 on the
programme's frames).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

from rtvoice.captions.cea608 import COLUMNS, Cea608Encoder
from rtvoice.captions.writers import _open_output, ready_time, wrap_words
from rtvoice.metrics.percentiles import Reservoir

FRAME_RATE = 30000 / 1001  # NTSC frames per second


def frame_of(seconds: float, frame_rate: float = FRAME_RATE) -> int:
    """The first frame at or after `seconds` (a burst never goes out before its text exists)."""
    return max(0, math.ceil(seconds * frame_rate - 1e-6))


def drop_frame_timecode(frame: int) -> str:
    """SMPTE drop-frame timecode of frame number `frame` at 29.97 fps: frame labels 0 and 1 are skipped at the
    start of every minute except each tenth."""
    tens, rest = divmod(frame, 17982)  # frames in 10 minutes
    skipped = 18 * tens + (2 * ((rest - 2) // 1798) if rest >= 2 else 0)
    label = frame + skipped
    ff, ss, mm, hh = label % 30, label // 30 % 60, label // 1800 % 60, label // 108000
    return f"{hh:02d}:{mm:02d}:{ss:02d};{ff:02d}"


class RollUpCaptions:
    """Final captions as roll-up CEA-608 bursts on one caption channel, timed as the module docstring says; a
    subclass puts each burst somewhere (:meth:`_emit`: an SCC line, a programme's frames).

    Args:
        stream_time: maps a wall time (time.time()) to stream seconds, for a live source; None: a final is timed
            at the end of its speech.
        rows: roll-up rows (2-4).
        channel: CC1-CC4.
        clear_after_s: clear the screen after this long without a new caption.
        frame_rate: the frames a second the channel carries one byte pair in.
        offset_s: added to a stream time to give the timeline the frames count on (a programme whose video
            starts before its audio: the audio's start on the video's timeline).
    """

    def __init__(self, stream_time: Callable[[float], float | None] | None = None, rows: int = 3,
                 channel: int = 1, clear_after_s: float = 4.0, frame_rate: float = FRAME_RATE,
                 offset_s: float = 0.0):
        self.encoder = Cea608Encoder(channel=channel, rows=rows)
        self.stream_time = stream_time
        self.clear_after_s = clear_after_s
        self.frame_rate = frame_rate
        self.offset_s = offset_s
        self.bursts = 0
        self.delayed = 0  # bursts that waited for the one before to go out
        self.delayed_frames = 0
        self.after_speech_end = Reservoir()  # s from the end of a final's speech to its burst's first frame
        self._busy_until = 0  # the first frame the channel is free again
        self._shown = False  # something on screen (to clear)
        self._closed = False

    def ready_time(self, event) -> float:
        """Stream seconds at which the final's text was ready (rtvoice.captions.writers.ready_time)."""
        return ready_time(event, self.stream_time)

    def _frame_of(self, seconds: float) -> int:
        """The first frame at or after stream time `seconds`."""
        return frame_of(seconds + self.offset_s, self.frame_rate)

    def write(self, event) -> None:
        if not event.is_final or self._closed:
            return
        words = event.text.split()
        if not words:
            return
        ready = self.ready_time(event)
        self._clear_if_idle(self._frame_of(ready))
        lines = [" ".join(line) for line in wrap_words(words, COLUMNS)]
        pairs = [pair for line in lines for pair in self.encoder.line(line)]
        frame = self._send(self._frame_of(ready), pairs)
        self.after_speech_end.append(frame / self.frame_rate - self.offset_s - event.end)
        self._shown = True

    def _send(self, frame: int, pairs: list[tuple[int, int]]) -> int:
        if frame < self._busy_until:
            self.delayed += 1
            self.delayed_frames += self._busy_until - frame
            frame = self._busy_until
        self._emit(frame, pairs)
        self._busy_until = frame + len(pairs)
        self.bursts += 1
        return frame

    def _emit(self, frame: int, pairs: list[tuple[int, int]]) -> None:
        """A burst: `pairs` (with parity) from frame number `frame` on, one a frame."""
        raise NotImplementedError

    def _clear_if_idle(self, next_frame: int | None) -> None:
        if not self._shown:
            return
        clear_at = self._busy_until + frame_of(self.clear_after_s, self.frame_rate)
        if next_frame is None or next_frame > clear_at:
            self._send(clear_at, self.encoder.erase())
            self._shown = False

    def stats(self) -> dict:
        return {"bursts": self.bursts, "delayed": self.delayed, "delayed_frames": self.delayed_frames,
                "replaced_characters": self.encoder.replaced,
                "cue_after_speech_end_s": self.after_speech_end.summary()}

    def close(self) -> None:
        """Clear the screen after the last caption (nothing more is written after this)."""
        if self._closed:
            return
        self._clear_if_idle(None)
        self._closed = True


class SccWriter(RollUpCaptions):
    """Final captions as roll-up CEA-608 in a Scenarist SCC file, flushed at each caption (see the module
    docstring).

    Args:
        path: the file.
        stream_time: maps a wall time (time.time()) to stream seconds, for a live source; None: a final is timed
            at the end of its speech.
        rows: roll-up rows (2-4).
        channel: CC1 or CC2 (SCC holds field 1).
        clear_after_s: clear the screen after this long without a new caption.
    """

    def __init__(self, path: Path, stream_time: Callable[[float], float | None] | None = None, rows: int = 3,
                 channel: int = 1, clear_after_s: float = 4.0):
        if channel not in (1, 2):
            raise ValueError(f"an SCC file holds CC1 or CC2 (field 1), not CC{channel}")
        super().__init__(stream_time, rows=rows, channel=channel, clear_after_s=clear_after_s)
        self.path = Path(path)
        self._file = _open_output(self.path)
        self._file.write("Scenarist_SCC V1.0")
        self._file.flush()

    def _emit(self, frame: int, pairs: list[tuple[int, int]]) -> None:
        self._file.write(f"\n\n{drop_frame_timecode(frame)}\t" + " ".join(f"{a:02x}{b:02x}" for a, b in pairs))
        self._file.flush()

    def close(self) -> None:
        if self._file.closed:
            return
        super().close()
        self._file.write("\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
