"""Caption latency accounting.

For every word of every final caption, with its end time in the audio (stream seconds, from word
alignment) mapped to the wall-clock time at which that audio was captured (the source's clock):

- ``word_first_shown``: wall time of the first caption (partial or final) that showed the word, with every
  word before it already as in the final, minus the time the word ended;
- ``word_committed``: the same for the first caption in which the word was committed (stable);
- ``final_after_speech_end``: wall time of each final caption minus the time its last word ended.

Words are compared after :func:`rtvoice.metrics.text.normalize_words` (word by word), so "them" shown in a
partial and "them." in the final are the same word. Figures are summarised as p50/p95 (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rtvoice.metrics.text import normalize_words
from rtvoice.metrics.percentiles import Reservoir, percentiles  # noqa: F401  (percentiles re-exported)

SAMPLE_RATE = 16000


@dataclass
class _Segment:
    shown: list[tuple[float, list[str]]] = field(default_factory=list)  # (emitted_at, words shown)
    committed: list[tuple[float, list[str]]] = field(default_factory=list)  # (emitted_at, committed words)


def _matched_prefix(shown: list[str], final: list[str]) -> int:
    n = 0
    for a, b in zip(shown, final):
        if a != b:
            break
        n += 1
    return n


class LatencyTracker:
    """Feed it every caption event (``observe``); ``summary()`` gives the percentiles.

    Args:
        wall_time_of: maps a stream sample index (16 kHz) to the wall time it was captured; None when the
            source has no meaningful clock (a file read as fast as possible), in which case only counts are
            kept.
    """

    def __init__(self, wall_time_of: Callable[[int], float | None] | None):
        self.wall_time_of = wall_time_of
        self._segments: dict[int, _Segment] = {}
        # Bounded however long the run (exact up to 4096 values each, a uniform sample past that).
        self.word_first_shown = Reservoir()
        self.word_committed = Reservoir()
        self.final_after_speech_end = Reservoir()
        self.partials = 0
        self.finals = 0
        self.words = 0

    def _wall(self, seconds: float) -> float | None:
        if self.wall_time_of is None:
            return None
        return self.wall_time_of(int(round(seconds * SAMPLE_RATE)))

    def observe(self, event) -> None:
        segment = self._segments.setdefault(event.segment, _Segment())
        if not event.is_final:
            self.partials += 1
            segment.shown.append((event.emitted_at, normalize_words(event.text).split()))
            segment.committed.append((event.emitted_at, normalize_words(event.committed).split()))
            return
        self.finals += 1
        del self._segments[event.segment]
        # Final words, one entry per normalised word, each with the end time of the Whisper word it is from.
        final_words: list[tuple[str, float]] = []
        for w in event.words:
            for part in normalize_words(w.text).split():
                final_words.append((part, w.end))
        if not final_words:
            return
        self.words += len(final_words)
        texts = [t for t, _ in final_words]
        first_shown = [event.emitted_at] * len(texts)
        first_committed = [event.emitted_at] * len(texts)
        for history, out in ((segment.shown, first_shown), (segment.committed, first_committed)):
            for emitted_at, shown in reversed(history):  # newest first: earlier matches overwrite later ones
                n = _matched_prefix(shown, texts)
                for i in range(n):
                    out[i] = min(out[i], emitted_at)
        if self.wall_time_of is None:
            return
        for (text, end), shown_at, committed_at in zip(final_words, first_shown, first_committed):
            spoken = self._wall(end)
            if spoken is None:
                continue
            self.word_first_shown.append(shown_at - spoken)
            self.word_committed.append(committed_at - spoken)
        if event.latency is not None:
            self.final_after_speech_end.append(event.latency)

    write = observe  # a caption listener like the writers

    def summary(self) -> dict:
        return {
            "captions": {"partial": self.partials, "final": self.finals, "words": self.words},
            "word_first_shown_s": percentiles(self.word_first_shown),
            "word_committed_s": percentiles(self.word_committed),
            "final_after_speech_end_s": percentiles(self.final_after_speech_end),
        }

    def report_lines(self) -> list[str]:
        s = self.summary()
        lines = [f"captions: {s['captions']['final']} final, {s['captions']['partial']} partial, "
                 f"{s['captions']['words']} words"]
        for key, label in (("word_first_shown_s", "word first shown after spoken"),
                           ("word_committed_s", "word committed after spoken"),
                           ("final_after_speech_end_s", "final caption after end of speech")):
            p = s[key]
            if p["n"]:
                lines.append(f"{label}: p50 {p['p50']:.3f} s, p95 {p['p95']:.3f} s (n={p['n']})")
        return lines
