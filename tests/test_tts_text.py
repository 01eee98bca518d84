"""Text handling: what a voice can say, blocks of long text, pieces of long sentences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtvoice.tts.text import plan_pieces, sayable, text_blocks, voice_scripts


def test_english_voice_skips_emoji_and_other_scripts():
    r = sayable("Hi 😀 there 👍🏽! 你好, Привет. Café — 5% of $3 ©2024 ½", "en-us")
    assert r.skipped == "😀👍🏽你好Привет"
    assert r.skipped_count == len("😀👍🏽你好Привет")
    assert r.text.split() == ["Hi", "there", "!", ",", ".", "Café", "—", "5%", "of", "$3", "©2024", "½"]


def test_zero_width_joiner_sequences_and_variation_selectors_are_skipped():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    r = sayable(f"ok {family} ❤\ufe0f done", "en-us")
    assert r.text.split() == ["ok", "done"]
    assert "\u200d" in r.skipped and "\ufe0f" in r.skipped


def test_voice_language_decides_which_letters_are_sayable():
    assert sayable("Привет мир", "ru").skipped == ""
    assert sayable("Привет мир", "en-gb-x-rp").skipped_count == 9
    assert sayable("γειά", "el").skipped == ""
    assert sayable("hello", "ru").skipped == ""  # Latin is always read
    assert voice_scripts("") is None and sayable("你好", "").skipped == ""  # unknown language: keep letters


def test_text_phoneme_voices_keep_only_characters_in_their_map():
    r = sayable("abc xyz!", "", phoneme_type="text", id_map={"a": [1], "b": [2], "c": [3], " ": [4]})
    assert r.text == "abc" + " " * 5 and r.skipped == "xyz!"


def test_plain_ascii_text_is_untouched():
    text = "It's 5 o'clock; the price is $3.50 (about 20% off) -- isn't it?"
    assert sayable(text, "en-us").text == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\t,;:\"')")), max_size=3000),
       st.integers(min_value=16, max_value=400))
def test_blocks_cover_the_text_in_order_and_respect_the_size(text, max_chars):
    blocks = list(text_blocks(text, max_chars))
    assert all(0 < len(b) <= max_chars and b.strip() for b in blocks)
    assert "".join(blocks).split() == text.split()  # only whitespace-only runs are left out


def test_blocks_are_cut_after_sentence_ends():
    sentence = "This sentence has exactly eight words in it. "
    blocks = list(text_blocks(sentence * 100, 200))
    assert all(b.rstrip().endswith(".") for b in blocks)
    assert all(len(b) <= 200 for b in blocks)


def test_blocks_reject_tiny_sizes():
    with pytest.raises(ValueError):
        list(text_blocks("abc", 4))


_PHONEMES = st.lists(st.sampled_from(list("abcdeˈː") + [" ", " ", ",", ";"]), max_size=600)


@settings(max_examples=300, deadline=None)
@given(_PHONEMES, st.integers(min_value=8, max_value=100), st.integers(min_value=0, max_value=300))
def test_pieces_cover_the_sentence_within_limits(phonemes, first, extra):
    limit = first + extra
    pieces = plan_pieces(phonemes, first, limit)
    if pieces:
        assert len(pieces[0]) <= first
        assert all(len(p) <= limit for p in pieces[1:])
    # the pieces are consecutive runs of the sentence; only the spaces cut at are left out
    pos = 0
    for i, piece in enumerate(pieces):
        assert piece and phonemes[pos:pos + len(piece)] == piece
        pos += len(piece)
        following = pieces[i + 1] if i + 1 < len(pieces) else None
        if pos < len(phonemes) and phonemes[pos] == " " and (following is None or following[0] != " "):
            pos += 1
    assert pos == len(phonemes)


def test_pieces_prefer_clause_boundaries_then_words():
    words = list("ðə kəmˈɪti mˈɛt ˌɑːn tˈuːzdeɪ, ænd ɐɡɹˈiːd tə pəstpˈoʊn ðə dᵻsˈɪʒən")
    pieces = plan_pieces(words, 36, 400)
    assert "".join(pieces[0]).endswith(",")  # cut at the comma, not at the last word before the limit
    no_comma = [p if p != "," else "x" for p in words]
    pieces = plan_pieces(no_comma, 36, 400)
    assert len(pieces[0]) <= 36 and no_comma[len(pieces[0])] == " "  # cut at a word boundary
    assert plan_pieces(words, 400, 400) == [words]
