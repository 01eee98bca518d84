"""Pacing a live dubbed voice so that it never drifts behind the speaker (``rtvoice dub --max-voice-lag``).

Translated lines take longer to say than the speech they replace, and a voice that speaks each line whole
after the one before it queues: its lag grows with the feed. Each line is therefore planned when the voice
takes it up (the lines before it are synthesised by then, so when the voice will be free is known, not
guessed), on wall-clock times of a live source:

- **when it starts**: ``start = max(voice free, now + first-piece time)``, where "voice free" is when a
  listener has heard every line before it and the first-piece time is the voice's measured time to its first
  sample; its lag is ``start - end of its source speech``.
- **its slot**: until the next line can start within ``target`` (a third of the bound) behind its own
  source. When the next line is already known, that is its source end plus ``target``. When it is not, its
  source is assumed to start after this one's (after the pause between them, when known) and to last no
  longer than ``next_line_s`` nor this line's span: the slot is ``pause + min(span, next_line_s) + target -
  lag``. A long line must not leave a short one after it beyond the bound.
- **its speed**: the predicted duration (rtvoice.tts.duration: phonemes × the voice's measured rate) over
  the slot, within ``1 .. max_speedup``: the voice's own speed control (Kokoro ``speed``, Piper length
  scale), not a stretch afterwards.
- **condensed** when even at ``max_speedup`` it would overrun the whole bound (slot plus ``bound -
  target``): the longest shorter rendering (:func:`condensed_renderings`) that fits at that speed, else the
  shortest (its first clause).
- **dropped**, the last resort, when its own start is already later than the bound behind its source: at
  planning (predicted) or when its first sample is ready (measured; this second check is what guarantees
  that no line starts beyond the bound). A line's speed and length decide when the *next* line can start;
  a line that would itself start too late can only be dropped.
- **late** instead of dropped (:class:`LateLines`): a few lines, at most ``late_share`` of those started so
  far, may start up to ``late_by_s`` past the bound. The bound is a percentile, not a wall: with 4% allowed,
  the p95 of the lines' starts stays within it. Most lines that come too late are the short rest of a
  sentence a clause of which is still being spoken; saying them late loses nothing, dropping them loses
  their words.

Nothing is silent: condensed and dropped lines are counted, said on the terminal and emitted as
``voice_lag`` events with the text that was not said (rtvoice.pipeline.dubbing).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

SPEEDUP_STEP = 0.05  # speed-ups are rounded up to this grid (a prepared first piece is keyed by its speed)


@dataclass(frozen=True)
class PacingConfig:
    """Args:
        max_voice_lag_s: no line starts later than this behind the end of its source speech (s).
        max_speedup: the most a line is sped up by the voice's own speed control (1: never).
        condense: shorten a line that cannot fit at ``max_speedup`` (else it is spoken whole or dropped).
        target_share: the share of the bound that the speed aims the lag at (the rest is headroom).
        next_line_s: the longest source span assumed for a next line not known yet (s; None: as long as this
            line's).
        late_share: the share of the lines started that may start past the bound (0: none, the bound is a wall).
        late_by_s: how far past the bound such a line may start (s).
    """

    max_voice_lag_s: float = 3.0
    max_speedup: float = 1.25
    condense: bool = True
    target_share: float = 1 / 3
    next_line_s: float | None = 1.5
    late_share: float = 0.04
    late_by_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.max_voice_lag_s > 0:
            raise ValueError(f"the voice lag bound must be > 0 s, got {self.max_voice_lag_s:g}")
        if not 1.0 <= self.max_speedup <= 2.0:
            raise ValueError(f"the speed-up limit must be within 1..2, got {self.max_speedup:g}")
        if not 0 < self.target_share <= 1:
            raise ValueError(f"target_share must be within (0, 1], got {self.target_share:g}")
        if not 0 <= self.late_share < 0.5:
            raise ValueError(f"the share of late lines must be within 0..0.5, got {self.late_share:g}")
        if not 0 <= self.late_by_s <= 60:
            raise ValueError(f"how late a late line may start must be within 0..60 s, got {self.late_by_s:g}")

    @property
    def target_lag_s(self) -> float:
        return self.max_voice_lag_s * self.target_share


@dataclass(frozen=True)
class LinePlan:
    """What to do with one line: say ``text`` at ``speedup``, or drop it (``dropped``)."""

    text: str
    speedup: float = 1.0
    condensed: bool = False
    dropped: bool = False
    start_s: float = 0.0  # predicted start (wall clock)
    lag_s: float = 0.0  # predicted lag at its start
    slot_s: float | None = None
    predicted_s: float = 0.0  # predicted duration at speedup


class LateLines:
    """Which lines may start past the bound: at most ``late_share`` of the lines started so far (counting the
    one asked about), none more than ``late_by_s`` past it. Planning and starting run on different threads."""

    def __init__(self, config: PacingConfig):
        self.config = config
        self.started = 0  # lines started
        self.late = 0  # of which past the bound
        self._lock = threading.Lock()

    def limit_s(self) -> float:
        """How far behind its source the next line may start (s)."""
        with self._lock:
            allowed = self.late + 1 <= self.config.late_share * (self.started + 1)
        return self.config.max_voice_lag_s + (self.config.late_by_s if allowed else 0.0)

    def start(self, lag_s: float) -> None:
        """A line starts `lag_s` behind its source."""
        with self._lock:
            self.started += 1
            self.late += lag_s > self.config.max_voice_lag_s


def _round_up(speedup: float, limit: float) -> float:
    steps = -(-round((speedup - 1.0) * 1e6) // round(SPEEDUP_STEP * 1e6))  # ceil, free of float noise
    return min(limit, round(1.0 + steps * SPEEDUP_STEP, 4))


def plan_line(config: PacingConfig, text: str, predict, *, now: float, voice_free: float, first_piece_s: float,
              source_start: float, source_end: float, next_source_start: float | None = None,
              next_source_end: float | None = None, limit_s: float | None = None) -> LinePlan:
    """The plan for one line (module docstring). Times are wall-clock seconds; ``predict(text, speedup)``
    gives the seconds the voice takes to say ``text`` at ``speedup``; ``limit_s``: how late this line may start
    (LateLines.limit_s; None: the bound)."""
    start = max(voice_free, now + first_piece_s)
    lag = start - source_end
    if lag > (config.max_voice_lag_s if limit_s is None else limit_s):
        return LinePlan(text, dropped=True, start_s=start, lag_s=lag)
    pause = max(0.0, next_source_start - source_end) if next_source_start is not None else 0.0
    span = max(0.0, source_end - source_start)
    if config.next_line_s is not None and next_source_end is not None:
        slot = max(0.0, next_source_end + config.target_lag_s - start)
    else:
        assumed = span if config.next_line_s is None else min(span, config.next_line_s)
        slot = assumed + pause + max(0.0, config.target_lag_s - lag)
    whole = max(0.0, config.max_voice_lag_s - lag) + span + pause
    spoken, condensed = text, False
    at_speed_1 = predict(text, 1.0)
    if config.condense and at_speed_1 / config.max_speedup > whole:
        options = condensed_renderings(text)
        if options:
            fitting = [o for o in options if predict(o, 1.0) / config.max_speedup <= whole]
            spoken, condensed = (fitting[0] if fitting else options[-1]), True
            at_speed_1 = predict(spoken, 1.0)
    if slot > 0:
        need = at_speed_1 / slot
    else:  # no slot left at all: as fast as allowed
        need = config.max_speedup if at_speed_1 > 0 else 1.0
    speedup = _round_up(max(1.0, need), config.max_speedup)
    return LinePlan(spoken, speedup, condensed, False, start, lag, slot, at_speed_1 / speedup)


# -------------------------------------------------------------------------------------------- condensing
# Words a line can lose without losing its content (discourse fillers), per language; removed only where a
# comma follows them at the start of a sentence or clause ("Bueno, ..."), where they are not the sentence's grammar.
FILLERS = {
    "en": ("well", "so", "you know", "i mean", "actually", "basically", "um", "uh", "okay"),
    "es": ("bueno", "pues", "o sea", "es decir", "en realidad", "bien", "eh", "vale"),
    "pt": ("bem", "então", "ou seja", "quer dizer", "na verdade", "né", "olha", "enfim"),
}
_PARENTHETICAL = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\]|—[^—]*—|–[^–]*–)")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


def _without_fillers(text: str) -> str:
    out = text
    for words in FILLERS.values():
        for filler in words:
            out = re.sub(rf"(?i)(^|[.;:!?,]\s+){re.escape(filler)},\s*", r"\1", out)
    return re.sub(r"\s{2,}", " ", out).strip()


def _sentence(text: str) -> str:
    text = text.strip().rstrip(",;:—– ")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def condensed_renderings(text: str) -> list[str]:
    """Shorter renderings of ``text``, longest first: without parentheticals and fillers, then its leading
    clauses (cut at , ; :), down to the first clause alone. Empty when nothing shorter can be made."""
    lighter = _sentence(_without_fillers(_PARENTHETICAL.sub("", text)))
    options = [lighter] if lighter and len(lighter) < len(text.strip()) else []
    clauses = [c for c in _CLAUSE_END.split(lighter or text.strip()) if c.strip()]
    for n in range(len(clauses) - 1, 0, -1):
        options.append(_sentence(" ".join(clauses[:n])))
    seen, out = set(), []
    for option in options:
        if option and option not in seen and len(option) < len(text.strip()):
            seen.add(option)
            out.append(option)
    return out
