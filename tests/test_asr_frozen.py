"""Frozen committed words alone (rtvoice.asr.frozen.FrozenWords): when a long segment's decodes start later,
and where; words with times on the real tokenizer's tokens (test_frozen_commits.py streams real speech)."""

from __future__ import annotations

from asr_parts_support import timed_words, tokenizer

from rtvoice.asr.frozen import FrozenWords

SR = 16000
TEXT = " he was not an ill disposed young man unless to be rather cold hearted"  # 14 words


def frozen(freeze_s: float = 4.0, keep_s: float = 3.0) -> FrozenWords:
    f = FrozenWords(freeze_s, keep_s, tokenizer())
    f.reset(segment_start=100 * SR)
    return f


def committed_tokens(n_words: int) -> int:
    return tokenizer().split_words(tokenizer().encode(TEXT))[n_words - 1].last


def test_committed_words_spanning_more_than_freeze_s_freeze_all_but_the_last_keep_s():
    f = frozen()
    tokens = tokenizer().encode(TEXT)
    words = timed_words(TEXT, 0.0, 0.5)  # from the segment start
    # 8 committed words end at 4.0 s: not more than 4 s, nothing frozen.
    assert not f.freeze(tokens, words, committed_tokens(8), 100 * SR)
    assert (f.tokens, f.decode_start) == (0, 100 * SR)
    # 10 end at 5.0 s: the words from 2.0 s on (within 3 s of the last end) stay, the 4 before are frozen.
    assert f.freeze(tokens, words, committed_tokens(10), 100 * SR)
    assert f.tokens == committed_tokens(4) and f.words == words[:4]
    assert f.decode_start == 100 * SR + 2 * SR
    # The next freeze counts from where the decodes now start: 12 words end at 6.0 s, 4 s after 2.0 s.
    assert not f.freeze(tokens, words, committed_tokens(12), 100 * SR)
    assert f.freeze(tokens, words, committed_tokens(13), 100 * SR)
    assert f.tokens == committed_tokens(7) and f.decode_start == 100 * SR + int(3.5 * SR)


def test_nothing_freezes_without_matching_words_or_when_switched_off():
    tokens = tokenizer().encode(TEXT)
    words = timed_words(TEXT, 0.0, 0.5)
    assert not frozen().freeze(tokens, words[:-1], committed_tokens(12), 100 * SR)  # words do not match tokens
    assert not frozen(freeze_s=0).wants_word_times(130 * SR, detects_language=False)
    f = frozen()
    assert not f.wants_word_times(104 * SR, detects_language=False)  # 4 s decoded: not more than 4 s
    assert f.wants_word_times(104 * SR + 1, detects_language=False)
    assert not f.wants_word_times(110 * SR, detects_language=True)  # a final may decode it again from scratch
    # A word longer than keep_s: nothing within keep_s of the last end starts after a frozen word.
    long_words = timed_words(" he was not an ill", 0.0, 3.5)
    assert not frozen().freeze(tokenizer().encode(" he was not an ill"), long_words, committed_tokens(5), 100 * SR)


def test_reset_unfreezes():
    f = frozen()
    f.freeze(tokenizer().encode(TEXT), timed_words(TEXT, 0.0, 0.5), committed_tokens(10), 100 * SR)
    f.reset(segment_start=200 * SR)
    assert (f.decode_start, f.tokens, f.words) == (200 * SR, 0, [])
