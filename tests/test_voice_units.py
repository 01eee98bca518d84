"""The dubbed voice's lines cut at clause boundaries before their final (rtvoice.pipeline.units)."""

from __future__ import annotations

import pytest

from asr_support import SAMPLE_RATE, silence_segments, stream_segment, whisper
from rtvoice.asr import StreamingConfig
from rtvoice.asr.events import FINAL, PARTIAL, CaptionEvent
from rtvoice.asr.transcript import Word
from rtvoice.pipeline.units import ClauseUnits, UnitConfig, clause_boundary


def _words(text: str, start: float = 0.0, each_s: float = 0.4) -> tuple[Word, ...]:
    return tuple(Word(" " + w, start + i * each_s, start + (i + 1) * each_s, 0.9) for i, w in enumerate(text.split()))


def _partial(words, committed: int, segment: int = 0) -> CaptionEvent:
    text = "".join(w.text for w in words).strip()
    return CaptionEvent(PARTIAL, segment, text, "".join(w.text for w in words[:committed]).strip(), "",
                        words[0].start, words[-1].end, words, committed, emitted_at=100.0 + words[-1].end,
                        latency=0.5)


def _final(words, segment: int = 0) -> CaptionEvent:
    text = "".join(w.text for w in words).strip()
    return CaptionEvent(FINAL, segment, text, text, "", words[0].start, words[-1].end, words, len(words),
                        emitted_at=101.0 + words[-1].end, latency=0.3)


@pytest.mark.parametrize("before, after, language, cut", [
    ("woman", "he", "en", True),  # a subject pronoun opens a clause
    ("consider", "how", "en", True),
    ("them.", "He", "en", True),  # punctuation, whatever follows
    ("the", "he", "en", False),  # an article cannot end a phrase
    ("to", "which", "en", False),
    ("Mr.", "John", "en", False),  # an abbreviation's dot is no sentence end
    ("casa", "que", "es", True),
    ("de", "que", "es", False),
    ("casa", "que", "de", False),  # a language without word lists: punctuation only
    ("casa,", "und", "de", True),
])
def test_clause_boundaries(before, after, language, cut):
    assert clause_boundary(before, after, language) is cut


def test_committed_words_are_cut_at_a_clause_and_the_final_gives_the_rest():
    words = _words("had he married a more amiable woman he might have been made still more respectable")
    units = ClauseUnits(UnitConfig(min_words=5, min_s=2.0, max_s=None), "en")
    assert units.feed(_partial(words[:9], committed=7)) == []  # "woman | he": "he" is not committed yet
    [first] = units.feed(_partial(words[:10], committed=8))
    assert first.is_final and first.text == "had he married a more amiable woman"
    assert (first.start, first.end) == (words[0].start, words[6].end) and first.words == words[:7]
    assert first.latency == pytest.approx(0.5 + (words[9].end - words[6].end))  # the partial's, from the unit's end
    assert units.feed(_partial(words[:12], committed=11)) == []  # "he might have been" is under 5 words
    [rest] = units.feed(_final(words))
    assert rest.text == "he might have been made still more respectable" and rest.words == words[7:]
    assert units.stats() == {"units_cut_before_final": 1, "finals": 1, "final_mismatches": 0}


def test_short_sentences_stay_whole():
    words = _words("when you add the figures drop the two", each_s=0.2)  # 1.6 s
    units = ClauseUnits(UnitConfig(min_words=3, min_s=2.0, max_s=None), "en")
    assert units.feed(_partial(words, committed=8)) == []
    final = _final(words)
    assert units.feed(final) == [final]


def test_a_final_that_does_not_begin_with_the_units_is_matched_by_time():
    words = _words("the storm came at night and the river rose over the bank")
    units = ClauseUnits(UnitConfig(min_words=3, min_s=1.0, max_s=None), "en")
    [first] = units.feed(_partial(words, committed=7))
    assert first.text == "the storm came at night"
    other = (Word(" A", words[0].start, words[0].end, 0.9),) + _words("storm came at night and the river rose over "
                                                                      "the bank", start=words[1].start)
    [rest] = units.feed(_final(other))
    assert rest.text == "and the river rose over the bank"
    assert units.stats()["final_mismatches"] == 1


def test_a_real_long_sentence_is_cut_before_its_final_and_nothing_is_lost_or_said_twice(dev_long):
    """dev_long's first sentence (6.7 s, 22 words, no comma in tiny.en's partials) streamed through the packaged
    recognizer with word times on partials: at least one unit is cut from a partial, before the final, and the
    units' words, joined, are the final's words. Which clause the cut falls on depends on when words were
    committed, so only that is asserted."""
    audio = dev_long.load()
    start, end = silence_segments(audio)[0]
    events, _ = stream_segment(whisper(), audio[start:end], StreamingConfig(partial_word_times=True), offset=start)
    units = ClauseUnits(UnitConfig(), "en")
    lines = []
    for event in events:
        lines += [(event.is_final, unit) for unit in units.feed(event)]
    final = events[-1]
    assert final.is_final and len(lines) >= 2 and not lines[0][0], [u.text for _, u in lines]
    assert " ".join(unit.text for _, unit in lines).split() == final.text.split()
    assert all(a.start < b.start for (_, a), (_, b) in zip(lines, lines[1:]))  # in order (the partials' and the
    # final's word times differ by some ms, so a unit may end a little after the next one's first word starts)
    assert lines[-1][1].end == final.end


def test_speech_that_runs_on_without_a_boundary_is_cut_at_a_phrase_end_after_max_s():
    words = _words("the letters used in the old monastery near the river of rome were gothic")
    units = ClauseUnits(UnitConfig(min_words=3, min_s=1.0, max_s=3.0), "en")
    assert units.feed(_partial(words[:7], committed=7)) == []  # 2.8 s: not yet
    [first] = units.feed(_partial(words, committed=11))  # 4.4 s: the last word before "of" that can end a phrase
    assert first.text == "the letters used in the old monastery near the river"
    without = ClauseUnits(UnitConfig(min_words=3, min_s=1.0, max_s=None), "en")
    assert without.feed(_partial(words, committed=11)) == []
