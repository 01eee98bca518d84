"""A final caption in another language, and its cues: the same cues, at the same times, as its source.

A translation has no word times of its own. So that both caption files line up cue for cue (a viewer
can switch language without the cues jumping), the translated text is cut into as many cues as the
source final gave, at word boundaries, each cue taking the share of the words that its source cue had
of the source characters, and each keeps its source cue's start and end. Inside a cue the words are
wrapped at the layout's line length; a translation that runs longer than the source may take a line
more than ``max_lines`` rather than lose words.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtvoice.captions.writers import CaptionLayout, Cue, cues_for, wrap_words


@dataclass(frozen=True)
class TranslatedCaption:
    """A source final (a :class:`~rtvoice.asr.streaming.CaptionEvent`) translated into ``language``.

    ``emitted_at`` is time.time() when the translation was ready; ``translation_s`` the translation call
    itself (s); ``latency`` the source caption's latency plus the wait for its translation (None when
    the source has no capture clock).
    """

    source: object
    text: str
    language: str
    source_language: str
    emitted_at: float
    translation_s: float

    kind = "final"
    is_final = True
    words = ()

    @property
    def segment(self) -> int:
        return self.source.segment

    @property
    def start(self) -> float:
        return self.source.start

    @property
    def end(self) -> float:
        return self.source.end

    @property
    def latency(self) -> float | None:
        if self.source.latency is None:
            return None
        return self.source.latency + (self.emitted_at - self.source.emitted_at)

    def cues(self, layout: CaptionLayout = CaptionLayout()) -> list[Cue]:
        return translated_cues(cues_for(self.source, layout), self.text, layout)

    def to_dict(self) -> dict:
        latency = self.latency
        return {
            "kind": self.kind,
            "segment": self.segment,
            "source": self.source.segment,  # the id of the source caption (its segment) this translates
            "language": self.language,
            "source_language": self.source_language,
            "text": self.text,
            "source_text": self.source.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "emitted_at": round(self.emitted_at, 4),
            "translation_s": round(self.translation_s, 4),
            "latency": None if latency is None else round(latency, 4),
        }


def translated_cues(source_cues: list[Cue], text: str, layout: CaptionLayout = CaptionLayout()) -> list[Cue]:
    """``text`` cut into ``len(source_cues)`` cues with the source cues' times (see the module docstring)."""
    words = text.split()
    if not source_cues or not words:
        return []
    if len(source_cues) == 1:
        groups = [words]
    else:
        weights = [sum(len(line) for line in cue.lines) for cue in source_cues]
        total = sum(weights)
        groups, taken, done = [], 0, 0
        for i, weight in enumerate(weights):
            done += weight
            left = len(source_cues) - i - 1  # cues after this one, each to get a word if there are enough
            end = len(words) if left == 0 else round(len(words) * done / total)
            end = max(min(end, len(words) - left), taken + (1 if taken < len(words) else 0))
            groups.append(words[taken:end])
            taken = end
    # (fewer words than source cues - a very short translation of a long caption - leaves the last cues
    # without words: those are left out rather than written empty)
    return [Cue(cue.start, cue.end, tuple(" ".join(line) for line in wrap_words(group, layout.max_chars)))
            for cue, group in zip(source_cues, groups) if group]
