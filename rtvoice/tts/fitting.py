"""A dubbed track whose lines are fitted to their source slots: translated speech runs 20–30% longer than
the speech it replaces, so each line that is longer than its slot is sped up, up to ``max_speedup``,
with Rubber Band's pitch-preserving time stretch (Debian ``rubberband-cli`` through PyPI
``pyrubberband``; its R3 engine, ``--fine``).

A line's slot is its source caption's span (start to end of its words). Each line is placed at its
source start, or later when the line before it is still speaking (an overlap: counted, with how late
it started) or, live, when its audio was not ready yet. A line that is still longer than its slot at
``max_speedup`` keeps its words: it runs on, and the overrun is counted. Nothing is clipped.

Lines are buffered whole (a line is a few seconds of audio) and written when the voice has finished
them, since the stretch needs the line's length.
"""

from __future__ import annotations

import shutil
import time

import numpy as np

from rtvoice.errors import RtvoiceError
from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.tts.playback import TimelineSink, _tag_start


def _tag_slot(utterance) -> float | None:
    """Source span (s) from an utterance's tag (an object with ``start`` and ``end``), or None."""
    start, end = getattr(utterance.tag, "start", None), getattr(utterance.tag, "end", None)
    if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end > start:
        return float(end - start)
    return None


def trim_silence(audio: np.ndarray, rate: int, keep_s: float = 0.05, floor_db: float = -40.0) -> np.ndarray:
    """``audio`` without the silence before its first and after its last sound (quieter than ``floor_db``
    under its peak), ``keep_s`` of it kept at each end: voices pad their lines (Kokoro by 0.2-0.3 s), and
    that padding must not count against the slot."""
    if audio.size == 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > np.max(np.abs(audio)) * 10 ** (floor_db / 20))
    keep = int(keep_s * rate)
    return audio[max(0, loud[0] - keep):min(len(audio), loud[-1] + 1 + keep)]


PIECE_FLOOR = 0.005  # -46 dBFS: quieter than any sounding phoneme of a calibrated voice (TARGET_RMS -22 dBFS)
PIECE_LEAD_S = 0.04  # kept before a piece's first sound
PIECE_TAIL_S = 0.08  # kept after its last: with the next piece's lead, a short pause between pieces


def trim_piece(audio: np.ndarray, rate: int, head: bool, tail: bool, floor: float = PIECE_FLOOR) -> np.ndarray:
    """A synthesised chunk without the silence a voice puts around each piece (Kokoro: 0.33-0.36 s before,
    0.43-0.55 s after; Piper: 0.1-0.2 s after the last), ``PIECE_LEAD_S`` / ``PIECE_TAIL_S`` of it kept;
    ``head`` / ``tail``: the chunk begins / ends a piece. A chunk with no sound left is empty when it is
    a whole piece. Samples are not copied."""
    if audio.size == 0 or not (head or tail):
        return audio
    loud = np.flatnonzero(np.abs(audio) > floor)
    if loud.size == 0:
        return audio[:0] if head and tail else audio
    start = max(0, int(loud[0]) - int(PIECE_LEAD_S * rate)) if head else 0
    stop = min(len(audio), int(loud[-1]) + 1 + int(PIECE_TAIL_S * rate)) if tail else len(audio)
    return audio[start:stop]


def time_stretch(audio: np.ndarray, rate: int, speedup: float) -> np.ndarray:
    """``audio`` played ``speedup`` times faster at the same pitch (Rubber Band R3)."""
    import pyrubberband

    out = pyrubberband.time_stretch(audio.astype(np.float32, copy=False), rate, speedup, rbargs={"--fine": ""})
    return np.asarray(out, dtype=np.float32).reshape(-1)


class FittedTimelineSink(TimelineSink):
    """A :class:`~rtvoice.tts.playback.TimelineSink` that fits each line to its slot (module docstring).

    Args:
        path: the WAV file to write.
        max_speedup: the most a line is sped up (1.25: 25% faster); 1.0 places lines without fitting.
        start_of, slot_of: a line's source start and slot (s) from its utterance (default: its tag's
            ``start`` and ``end - start``).
        clock_origin: as for TimelineSink (live sources).
    """

    def __init__(self, path, max_speedup: float = 1.25, start_of=_tag_start, slot_of=_tag_slot,
                 clock_origin: float | None = None, subtype: str = "PCM_16") -> None:
        if not 1.0 <= max_speedup <= 2.0:
            raise ValueError(f"max_speedup must be within 1.0..2.0, got {max_speedup}")
        if max_speedup > 1.0 and shutil.which("rubberband") is None:
            raise RtvoiceError("fitting dubbed lines to their slots needs Rubber Band: apt-get install rubberband-cli "
                               "(or --max-speedup 1 to place them unfitted)")
        super().__init__(path, start_of=start_of, clock_origin=clock_origin, subtype=subtype)
        self.max_speedup = max_speedup
        self.slot_of = slot_of
        self._pending: list[np.ndarray] = []
        self._ready_s = 0.0
        self.stretched_lines = 0
        self.overlaps = 0
        self.overrun_lines = 0
        self._overlap_s = Reservoir()  # how late a line started because the one before it still spoke (s)
        self._speedups = Reservoir()

    def begin(self, utterance) -> None:
        self._pending = []
        self._ready_s = 0.0 if self.clock_origin is None else time.perf_counter() - self.clock_origin

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        self._pending.append(np.asarray(samples, dtype=np.float32))

    def interrupt(self) -> None:
        self._pending = []

    def end(self, utterance) -> None:
        audio = np.concatenate(self._pending) if self._pending else np.zeros(0, np.float32)
        self._pending = []
        if self.max_speedup > 1.0:
            audio = trim_silence(audio, self.rate)
        if audio.size == 0:
            return
        slot = self.slot_of(utterance)
        length_s = len(audio) / self.rate
        speedup = 1.0
        if slot is not None and length_s > slot and self.max_speedup > 1.0:
            speedup = min(self.max_speedup, length_s / slot)
            audio = time_stretch(audio, self.rate, speedup)
            self.stretched_lines += 1
        self._speedups.append(speedup)
        source_s = self.start_of(utterance)
        source = int(round(source_s * self.rate))
        start = max(source, int(round(self._ready_s * self.rate)), self.position)
        overlap = self.position > source and self.position >= int(round(self._ready_s * self.rate))
        if overlap:
            self.overlaps += 1
            self._overlap_s.append((self.position - source) / self.rate)
        overrun = slot is not None and len(audio) / self.rate > slot + 1e-3
        self.overrun_lines += overrun
        self._delays.append(start / self.rate - source_s)
        if len(self.placements) < self.PLACEMENTS_KEPT:
            self.placements.append({"id": utterance.id, "source_s": source_s, "placed_s": start / self.rate,
                                    "delay_s": start / self.rate - source_s, "slot_s": slot,
                                    "voice_s": length_s, "speedup": round(speedup, 4),
                                    "audio_s": len(audio) / self.rate, "overlap": overlap, "overrun": bool(overrun)})
        pad = start - self.position
        while pad > 0:
            n = min(pad, self.rate)
            self._file.write(np.zeros(n, np.float32))
            pad -= n
        self._file.write(audio)
        self.position = start + len(audio)

    def stats(self) -> dict:
        out = super().stats()
        out["fit"] = {"max_speedup": self.max_speedup, "stretched_lines": self.stretched_lines,
                      "speedup": percentiles(self._speedups), "overlaps": self.overlaps,
                      "overlap_s": percentiles(self._overlap_s), "overrun_lines": self.overrun_lines}
        return out

    def report_line(self) -> str:
        f = self.stats()["fit"]
        late = f["overlap_s"]
        return (f"dubbed track: {f['stretched_lines']} line(s) sped up to fit their slot (at most "
                f"{self.max_speedup:g}x), {f['overrun_lines']} still longer than their slot, {f['overlaps']} "
                f"overlap(s) with the line before" + (f" (started up to {late['max']:.2f} s late)" if f["overlaps"]
                                                       else ""))
