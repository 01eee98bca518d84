"""The dubbed voice's lines cut at clause boundaries inside a caption, from its committed words (``rtvoice dub
--voice-lines clause``).

Why: a voice that speaks a caption only once it is final starts a 10 s sentence after the sentence has
ended, and even 1.25× faster its translation runs on into the next sentence's time. The line after it
then starts ``lag0 + D/speed - pause - d_next`` behind its own source (``lag0``: recognition and first audio,
``D``: the translation's spoken length, ``d_next``: the next sentence's length), which is over any
reasonable bound when a short sentence follows a long one: the pacer can only drop it. Cutting the long
caption where the speaker ends a clause lets the voice start it while the speaker is still talking.

What may be cut: only committed words (rtvoice.asr: they never change), once the words not yet cut span
``min_s`` and hold ``min_words``, at a clause boundary between two committed words (:func:`clause_boundary`):
after a word that ends with ``, ; : . ? !``, or before a word that opens a clause (a conjunction, a relative
or interrogative word, a subject pronoun) when the word before it can end a phrase (it is not an article, a
preposition, an auxiliary...). Streaming partials of the small English models carry almost no punctuation,
and Whisper's word times leave no gaps to find pauses in, so the words themselves must tell. Short sentences
stay whole (they translate best whole). With ``max_s``, words that run on that long with no boundary are cut
after the last one that can end a phrase, as an interpreter does. The final caption's words after the units
already cut are the last unit (all of it when nothing was cut). A unit is a final caption of its own (a
:class:`~rtvoice.asr.events.CaptionEvent` with its words and times), so everything after this stage
(translation, the translated captions, the voice, its lag and latency) treats it as a line.

The final's words are matched to the units by their text (the final is decoded with the committed words
forced, so it begins with them); when they differ (a language switch dropped committed words) by time, and
the mismatch is counted.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from rtvoice.asr.events import FINAL, CaptionEvent

SAMPLE_RATE = 16000
_CLAUSE_END = re.compile(r"[,;:.?!…—–]['\"»”’)\]]*$")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "vs.", "etc.", "e.g.", "i.e.", "no.", "mt."}
# Per source language: words that open a clause (a cut may come before them), and words that cannot end a
# phrase (no cut after them). The voice's sources are English, Spanish and Portuguese; other languages are
# cut at punctuation only.
OPENERS = {
    "en": set("and but or so because although though while when where whereas which who whom whose that if "
              "unless until since as than how what why yet after before i he she we they you it".split()),
    "es": set("y e pero o u porque aunque mientras cuando donde que quien quienes cuyo si como entonces pues "
              "yo él ella nosotros ellos ellas usted ustedes".split()),
    "pt": set("e mas ou porque embora enquanto quando onde que quem cujo se como então pois eu ele ela nós "
              "eles elas você vocês".split()),
}
NO_END = {
    "en": set("the a an to of in on at for with by from into onto about over under his her my your our their "
              "its this these those and or but that which who very more most not no is was were are am be been "
              "being have has had will would can could should must may might do does did than as so if such "
              "every each any some all".split()),
    "es": set("el la los las un una unos unas de del al a en con por para sin sobre su sus mi mis tu tus y e o "
              "u que muy más no es son era fue ha han había ser estar está están se le les lo me te nos".split()),
    "pt": set("o a os as um uma uns umas de do da dos das ao aos à às em no na nos nas com por para sem sobre "
              "seu sua seus suas meu minha e ou que muito mais não é são era foi tem têm ser estar está se lhe "
              "me te".split()),
}
_NOT_WORD = re.compile(r"[^\w'-]+")


def _bare(word: str) -> str:
    return _NOT_WORD.sub("", word.lower())


def ends_clause(word: str) -> bool:
    """Whether ``word`` (as Whisper writes it) ends with clause-ending punctuation (not an abbreviation's dot)."""
    word = word.strip()
    return bool(_CLAUSE_END.search(word)) and word.lower() not in _ABBREVIATIONS


def clause_boundary(before: str, after: str, language: str | None) -> bool:
    """Whether a unit may end after the word ``before`` when ``after`` follows (module docstring)."""
    if ends_clause(before):
        return True
    opens, no_end = OPENERS.get(language or ""), NO_END.get(language or "")
    if opens is None:
        return False
    return _bare(after) in opens and _bare(before) not in no_end and _bare(before) not in opens


@dataclass(frozen=True)
class UnitConfig:
    """Args:
        min_words: a unit cut before its final has at least this many words.
        min_s: and spans at least this many seconds of speech (shorter sentences stay whole).
        max_s: when the words not yet cut span this many seconds with no clause boundary among them, cut after
            the last committed word that can end a phrase (None: never; only at clause boundaries).
    """

    min_words: int = 5
    min_s: float = 1.2
    max_s: float | None = 3.0

    def __post_init__(self) -> None:
        if self.min_words < 1:
            raise ValueError(f"min_words must be >= 1, got {self.min_words}")
        if not self.min_s >= 0:
            raise ValueError(f"min_s must be >= 0 s, got {self.min_s}")
        if self.max_s is not None and not self.max_s > self.min_s:
            raise ValueError(f"max_s must be > min_s ({self.min_s:g} s), got {self.max_s:g}")


def _norm(text: str) -> str:
    return re.sub(r"[^\w]", "", text.lower())


class ClauseUnits:
    """Cuts each segment's captions into units (module docstring). Not thread-safe: one caption thread feeds it.

    Args:
        config: when a unit may be cut.
        language: the source language (which words open a clause); None: punctuation only.
    """

    def __init__(self, config: UnitConfig = UnitConfig(), language: str | None = None) -> None:
        self.config = config
        self.language = language
        self._segment: int | None = None
        self._sent: list = []  # the words of this segment already cut into units
        self.units_cut = 0  # units cut from partials (before their final)
        self.finals = 0
        self.mismatches = 0  # finals whose words did not begin with the units' (matched by time)

    def feed(self, event) -> list[CaptionEvent]:
        """The units that `event` (a partial or final caption of the source) completes, in order."""
        if event.segment != self._segment:
            self._segment, self._sent = event.segment, []
        if event.is_final:
            self.finals += 1
            rest = self._rest_of_final(event)
            self._segment, self._sent = None, []
            if not rest:
                return []
            if len(rest) == len(event.words):
                return [event]  # nothing was cut: the final itself
            return [self._unit(event, rest, event.latency, final=True)]
        committed = event.words[:event.committed_words]
        if len(committed) <= len(self._sent) or not self._starts_with_sent(committed):
            return []
        new = committed[len(self._sent):]
        cut = None
        for i in range(len(new) - 1):  # a cut after new[i], before new[i + 1] (committed too: the boundary is sure)
            if (i + 1 >= self.config.min_words and new[i].end - new[0].start >= self.config.min_s
                    and clause_boundary(new[i].text, new[i + 1].text, self.language)):
                cut = i + 1
                break
        if cut is None and self.config.max_s is not None and new[-1].end - new[0].start >= self.config.max_s:
            cut = self._phrase_end(new)
        if cut is None:
            return []
        words = list(new[:cut])
        self._sent.extend(words)
        self.units_cut += 1
        latency = None if event.latency is None else event.latency + (event.end - words[-1].end)
        return [self._unit(event, words, latency, final=False)]

    def _phrase_end(self, new) -> int | None:
        """The longest cut of `new` (committed words, the last one kept back) that ends on a word that can end
        a phrase, with at least min_words; None when there is none."""
        no_end = NO_END.get(self.language or "", set())
        for i in range(len(new) - 2, self.config.min_words - 2, -1):
            if _bare(new[i].text) not in no_end and _bare(new[i].text) not in OPENERS.get(self.language or "", ()):
                return i + 1
        return None

    def unsaid(self, event):
        """A partial with only its words after the units already cut (what the voice's next line will say
        first), for preparing its first piece ahead; the partial itself when nothing was cut."""
        if event.is_final or event.segment != self._segment or not self._sent or not self._starts_with_sent(
                event.words):
            return event
        words = event.words[len(self._sent):]
        text = "".join(w.text for w in words).strip()
        return dataclasses.replace(event, text=text, committed="", unstable=text, words=tuple(words),
                                   committed_words=max(0, event.committed_words - len(self._sent)))

    def stats(self) -> dict:
        return {"units_cut_before_final": self.units_cut, "finals": self.finals, "final_mismatches": self.mismatches}

    def _starts_with_sent(self, words) -> bool:
        return len(words) >= len(self._sent) and all(_norm(a.text) == _norm(b.text) for a, b in zip(words, self._sent))

    def _rest_of_final(self, final) -> list:
        words = list(final.words)
        if not self._sent:
            return words
        if self._starts_with_sent(words):
            return words[len(self._sent):]
        self.mismatches += 1
        until = self._sent[-1].end
        return [w for w in words if (w.start + w.end) / 2 >= until]

    @staticmethod
    def _unit(event, words: list, latency: float | None, final: bool) -> CaptionEvent:
        text = "".join(w.text for w in words).strip()
        audio = event.audio
        if audio is not None and not final:  # the segment's audio up to the unit's end (casting reads it)
            audio = audio[:max(0, int(round((words[-1].end - event.start) * SAMPLE_RATE)))]
        return dataclasses.replace(event, kind=FINAL, text=text, committed=text, unstable="", start=words[0].start,
                                   end=words[-1].end, words=tuple(words), committed_words=len(words), latency=latency,
                                   audio=audio)
