"""English WER normalisation (rtvoice.metrics.text): Whisper's EnglishTextNormalizer for scores, the word-by-word
normaliser for matching partial words with final words."""

from __future__ import annotations

import jiwer

from rtvoice.metrics.text import normalize_english, normalize_words


def test_numbers_of_any_size_spelling_and_contractions_score_as_the_same_words():
    # The hand-written normaliser spelled out 0-99 only: "fourteen fifty-five" against "1455" was 3 errors.
    for said, written in (("the Bible of about fourteen fifty-five", "the Bible of about 1455"),
                          ("in eighteen thirteen", "In 1813."),
                          ("fifteen or twenty years", "15 or 20 years"),
                          ("one hundred and twenty", "120"),
                          ("the colour of it", "the color of it"),
                          ("don't you", "do not you"),
                          ("Mr. John Dashwood", "mister john dashwood"),
                          ("cold-hearted", "cold hearted")):
        assert normalize_english(said) == normalize_english(written), (said, written)
        assert jiwer.wer(normalize_english(said), normalize_english(written)) == 0.0
    assert normalize_words("fourteen fifty-five") != normalize_words("1455")  # the reason for the change


def test_words_normalised_one_by_one_stay_a_prefix_of_the_text():
    # What the latency accounting needs: a partial's committed words are a prefix of the final's.
    final = "Gutenberg, or forty-two line Bible of about fourteen fifty-five, has never been surpassed."
    committed = "Gutenberg, or forty-two line Bible of about fourteen fifty"
    words = normalize_words(committed).split()
    assert normalize_words(final).split()[:len(words)] == words
    assert " ".join(normalize_words(w) for w in final.split()).split() == normalize_words(final).split()
    # Whisper's normaliser joins number words, so a prefix cut inside a number is not a prefix.
    assert normalize_english(final).split()[:len(normalize_english(committed).split())] != \
        normalize_english(committed).split()
