"""The commit rule alone (rtvoice.asr.commit.LocalAgreement): hypotheses in, committed tokens out, on the real
tokenizer's tokens (agreed_prefix's own cases are in test_asr_streaming.py)."""

from __future__ import annotations

from asr_parts_support import tokenizer

from rtvoice.asr.commit import LocalAgreement


def buffer(agreement: int = 2, boundary: str = "newest", min_probability: float = 0.5) -> LocalAgreement:
    return LocalAgreement(agreement, tokenizer().starts_word, boundary, min_probability)


def text(tokens: list[int]) -> str:
    return tokenizer().decode(tokens)


def hypothesis(words: str, probability: float = 0.9) -> tuple[list[int], list[float]]:
    tokens = tokenizer().encode(words)
    return tokens, [probability] * len(tokens)


def test_nothing_is_committed_before_n_hypotheses_agree():
    commits = buffer(agreement=3)
    for _ in range(2):
        commits.add(*hypothesis(" He was not an ill"), retried=False)
        assert not commits.full
    commits.add(*hypothesis(" He was not an ill disposed"), retried=False)
    assert commits.full
    commits.commit()
    # The older two end with "ill", each token sure, and the newest shows the next word begin: "ill" is whole.
    assert text(commits.committed) == " He was not an ill"


def test_only_the_last_n_hypotheses_count_and_commits_never_shrink():
    commits = buffer()
    commits.add(*hypothesis(" How do you marry"), retried=False)
    commits.add(*hypothesis(" Had he married a more"), retried=False)
    commits.commit()
    assert commits.committed == []  # they disagree from the first word
    commits.add(*hypothesis(" Had he married a more amiable"), retried=False)
    commits.commit()
    assert text(commits.committed) == " Had he married a more"
    assert len(commits.hypotheses) == 2
    # Committed tokens are forced as every later decode's prefix; a later pair that disagrees right after them
    # commits nothing more, and takes nothing back.
    commits.add(*hypothesis(" Had he married a more amiable woman"), retried=False)
    commits.add(*hypothesis(" Had he married a more a amiable"), retried=False)
    commits.commit()
    assert text(commits.committed) == " Had he married a more"


def test_the_newest_boundary_needs_sure_words_the_all_boundary_does_not_take_them():
    older, newer = " He was not an ill", " He was not an ill disposed"
    for boundary, probability, expected in (("newest", 0.9, " He was not an ill"),
                                            ("newest", 0.3, " He was not an"),
                                            ("all", 0.9, " He was not an")):
        commits = buffer(boundary=boundary)
        commits.add(*hypothesis(older, probability), retried=False)
        commits.add(*hypothesis(newer, probability), retried=False)
        commits.commit()
        assert text(commits.committed) == expected, (boundary, probability)


def test_a_sooner_retry_commits_only_words_every_hypothesis_is_sure_of():
    tokens, _ = hypothesis(" How do you marry the more")
    unsure_from_marry = [0.9, 0.9, 0.9] + [0.4] * (len(tokens) - 3)
    for retried, expected in ((False, " How do you marry the"), (True, " How do you")):
        commits = buffer()
        commits.add(tokens, unsure_from_marry, retried=retried)
        commits.add(tokens + tokenizer().encode(" amiable"), unsure_from_marry + [0.9], retried=False)
        commits.commit()
        assert text(commits.committed) == expected, retried


def test_save_restore_and_clear():
    commits = buffer()
    commits.add(*hypothesis(" The child almost"), retried=False)
    commits.add(*hypothesis(" The child almost hurt"), retried=False)
    commits.commit()
    saved = commits.save()
    before = (list(commits.committed), [list(h) for h in commits.hypotheses])
    commits.add(*hypothesis(" The child almost hurt the small"), retried=True)
    commits.commit()
    commits.restore(saved)
    assert (commits.committed, commits.hypotheses) == before and commits.retried == [False, False]
    commits.clear()
    assert (commits.committed, commits.hypotheses, commits.probabilities, commits.retried) == ([], [], [], [])
