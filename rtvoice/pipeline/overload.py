"""Overload accounting for live captions: how far recognition is behind the newest audio received.

The *lag* is the audio a live source has delivered that the caption loop has not taken yet, in seconds:
``(samples delivered - samples taken by the recognizer) / 16000``. For a source captured in real time it
is how far the captions are behind real time; for a source paced faster than real time it is the backlog
it built up. The caption loop measures it before each read and after each batch of segment events (final
decodes), skips partial decodes while it exceeds ``overload_lag_s``, and hands it to :class:`LagMonitor`,
which keeps the figures for the stats JSON and says on the terminal when the loop falls behind and when it
has caught up (rate-limited: one line per change, at most one "still behind" line every ``report_every_s``).

Where the backlog waits, and its bound: the front end's input ring (``FrontEndConfig.input_capacity_s``)
and its clean-audio queue (``FrontEndConfig.audio_queue_s``). Audio that does not fit is dropped and counted
(``frontend.input_overflow`` / ``source.dropped`` / ``frontend.audio_dropped_samples``), never waited for;
segments the recognizer has already started always get their final caption.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

SAMPLE_RATE = 16000  # Hz, stream positions


class LagMonitor:
    """Lag figures of a live caption run and the status lines that announce overload.

    Args:
        threshold_s: lag above which the loop counts as behind (partial decodes are skipped).
        status: called with a one-line message when the loop falls behind, stays behind (every
            ``report_every_s``) and catches up; None: no messages.
        report_every_s: least wall time between two "behind" lines.
        settle_s: the loop counts as caught up once the lag has stayed at or under half the threshold for
            this long (wall seconds): decodes slower than the threshold make the lag saw-tooth, and a dip
            between two of them is not catching up.
        trace_step_s: the trace keeps the largest lag seen per this much stream time.
        trace_max: trace points kept (the newest; a long run keeps its last trace_max x trace_step_s seconds).
        clock: monotonic wall clock (s).
    """

    def __init__(self, threshold_s: float = 1.0, status: Callable[[str], None] | None = None,
                 report_every_s: float = 5.0, settle_s: float = 2.0, trace_step_s: float = 1.0, trace_max: int = 600,
                 clock: Callable[[], float] = time.monotonic):
        if threshold_s <= 0:
            raise ValueError(f"threshold_s must be > 0, got {threshold_s}")
        if report_every_s < 0 or settle_s < 0 or trace_step_s <= 0 or trace_max < 1:
            raise ValueError("report_every_s and settle_s must be >= 0, trace_step_s > 0 and trace_max >= 1")
        self.threshold_s = threshold_s
        self.status = status
        self.report_every_s = report_every_s
        self.settle_s = settle_s
        self.trace_step = int(trace_step_s * SAMPLE_RATE)
        self.trace: deque[list[float]] = deque(maxlen=trace_max)  # [stream s, largest lag s in that step]
        self.clock = clock
        self.last_s = 0.0
        self.max_s = 0.0
        self.max_at_s = 0.0  # stream time of the largest lag
        self.behind = False
        self.episodes = 0
        self.behind_seconds = 0.0
        self._behind_since: float | None = None
        self._low_since: float | None = None
        self._episode_max = 0.0
        self._last_line: float | None = None
        self._announced = False
        self._window_max = 0.0  # the largest lag since the last line
        self._step = -1

    def update(self, received: int, taken: int) -> float:
        """Record the lag given the samples the source delivered and the samples the recognizer took; returns
        the lag in seconds."""
        lag = max(0, received - taken) / SAMPLE_RATE
        self.last_s = lag
        if lag > self.max_s:
            self.max_s, self.max_at_s = lag, taken / SAMPLE_RATE
        step = taken // self.trace_step
        if step != self._step:
            self._step = step
            self.trace.append([round(taken / SAMPLE_RATE, 2), round(lag, 3)])
        elif lag > self.trace[-1][1]:
            self.trace[-1][1] = round(lag, 3)
        now = self.clock()
        if not self.behind and lag > self.threshold_s:
            self.behind, self.episodes = True, self.episodes + 1
            self._behind_since, self._episode_max, self._low_since = now, lag, None
            self._window_max = lag
            self._announced = self._say(now, f"behind real time by {lag:.1f} s: skipping partial captions, "
                                             f"finals are kept")
        elif self.behind:
            self._episode_max = max(self._episode_max, lag)
            if lag > self.threshold_s / 2:
                self._low_since = None
            elif self._low_since is None:
                self._low_since = now
            if self._low_since is not None and now - self._low_since >= self.settle_s:
                self.behind = False
                behind_for = self._low_since - self._behind_since
                self.behind_seconds += behind_for
                if self._announced:
                    self._say(now, f"caught up (lag {lag:.1f} s) after {behind_for:.1f} s behind, "
                                   f"at most {self._episode_max:.1f} s", force=True)
            else:
                self._window_max = max(self._window_max, lag)
                if self._say(now, f"{'still ' if self._announced else ''}behind real time by up to "
                                  f"{self._window_max:.1f} s (partial captions skipped, finals kept)"):
                    self._announced = True
        return lag

    def _say(self, now: float, line: str, force: bool = False) -> bool:
        """Hand `line` to the status callback unless a line went out less than report_every_s ago."""
        if self.status is None:
            return False
        if not force and self._last_line is not None and now - self._last_line < self.report_every_s:
            return False
        self._last_line, self._window_max = now, 0.0
        self.status(line)
        return True

    def summary(self) -> dict:
        behind_seconds = self.behind_seconds
        if self.behind and self._behind_since is not None:
            behind_seconds += (self._low_since or self.clock()) - self._behind_since
        return {
            "lag_threshold_s": self.threshold_s,
            "lag_s_last": round(self.last_s, 3),
            "lag_s_max": round(self.max_s, 3),
            "lag_s_max_at": round(self.max_at_s, 2),
            "behind_episodes": self.episodes,
            "behind_seconds": round(behind_seconds, 3),
            "behind_at_end": self.behind,
            "lag_trace": [list(p) for p in self.trace],
        }


__all__ = ["LagMonitor"]
