"""The commit rule: LocalAgreement-n over a segment's hypotheses (Macháček et al. 2023), cut back to a word
boundary, with sure words (token probabilities) where an older hypothesis ends with the word."""

from __future__ import annotations

from typing import Callable


def agreed_prefix(hypotheses: list[list[int]], committed: int, starts_word: Callable[[int], bool],
                  boundary: str = "all", probabilities: list[list[float]] | None = None,
                  min_probability: float = 0.0, every_token: bool = False) -> int:
    """Length of the token prefix that all `hypotheses` (oldest first) share, cut back to a word boundary,
    and never shorter than `committed`.

    boundary "all": every hypothesis shows a word starting after the prefix. "newest": the newest does, and
    an older one may instead end there, provided each token of that last word has at least
    `min_probability` in every hypothesis (`probabilities`: per token, as the hypotheses). `every_token`:
    each token after `committed` must have at least `min_probability` in every hypothesis, whatever the
    boundary (no probabilities: nothing new is agreed)."""
    k = min(len(h) for h in hypotheses)
    first = hypotheses[0]
    for i in range(committed, k):
        if any(h[i] != first[i] for h in hypotheses[1:]):
            k = i
            break
    if every_token and min_probability > 0:
        if probabilities is None or any(len(p) < k for p in probabilities):
            return committed
        k = next((i for i in range(committed, k) if any(p[i] < min_probability for p in probabilities)), k)
    newest, older = hypotheses[-1], hypotheses[:-1]
    for j in range(k, committed, -1):
        if all(j < len(h) and starts_word(h[j]) for h in hypotheses):
            return j
        if (boundary == "newest" and j < len(newest) and starts_word(newest[j])
                and all(j == len(h) or starts_word(h[j]) for h in older)
                and _last_word_sure(hypotheses, probabilities, j, starts_word, min_probability)):
            return j
    return committed


def _last_word_sure(hypotheses, probabilities, j: int, starts_word, min_probability: float) -> bool:
    """Every token of the word that ends at token `j` has at least `min_probability` in every hypothesis."""
    if min_probability <= 0:
        return True
    if probabilities is None or any(len(p) < j for p in probabilities):
        return False
    first = j - 1
    while first > 0 and not starts_word(hypotheses[-1][first]):
        first -= 1
    return all(min(p[first:j]) >= min_probability for p in probabilities)


class LocalAgreement:
    """One segment's hypothesis buffer (whisper_streaming's ``HypothesisBuffer``): the last `agreement` decodes
    of the segment and the committed token prefix they agreed on. Committed tokens never change while the
    segment lasts (only a decode again in another language drops them, :meth:`clear`).

    Args:
        agreement: n of LocalAgreement-n (hypotheses that must agree).
        starts_word: whether a token begins a word (the tokenizer's).
        boundary: where a commit may end, "all" or "newest" (:func:`agreed_prefix`).
        min_word_probability: the sure-word threshold (0..1; :func:`agreed_prefix`'s `min_probability`).
    """

    def __init__(self, agreement: int, starts_word: Callable[[int], bool], boundary: str,
                 min_word_probability: float):
        self.agreement = agreement
        self.starts_word = starts_word
        self.boundary = boundary
        self.min_word_probability = min_word_probability
        self.committed: list[int] = []
        self.hypotheses: list[list[int]] = []
        self.probabilities: list[list[float]] = []  # token probabilities of each of hypotheses
        # Each of hypotheses was decoded again without its audio context before the segment held
        # context_retry_s (a sooner retry, StreamingConfig.sure_retry_s): only sure words commit from it.
        self.retried: list[bool] = []

    def clear(self) -> None:
        """A new segment, or the segment decoded again from scratch: nothing committed, no hypotheses."""
        self.committed, self.hypotheses, self.probabilities, self.retried = [], [], [], []

    def add(self, tokens: list[int], probabilities: list[float], retried: bool) -> None:
        """The newest hypothesis (text tokens from the segment start, committed ones first)."""
        self.hypotheses = (self.hypotheses + [tokens])[-self.agreement:]
        self.probabilities = (self.probabilities + [probabilities])[-self.agreement:]
        self.retried = (self.retried + [retried])[-self.agreement:]

    @property
    def full(self) -> bool:
        """As many hypotheses as must agree."""
        return len(self.hypotheses) == self.agreement

    def commit(self) -> None:
        """Commit the prefix the hypotheses agree on (:func:`agreed_prefix`); where any of them is a sooner
        retry, only words every hypothesis is sure of."""
        sure_only = any(self.retried)  # only where token probabilities are computed
        self.committed = self.hypotheses[-1][:agreed_prefix(
            self.hypotheses, len(self.committed), self.starts_word, self.boundary,
            self.probabilities, self.min_word_probability, every_token=sure_only)]

    def save(self) -> tuple:
        """The buffer as it is (its lists are replaced, never changed in place), for :meth:`restore`."""
        return self.committed, self.hypotheses, self.probabilities, self.retried

    def restore(self, saved: tuple) -> None:
        self.committed, self.hypotheses, self.probabilities, self.retried = saved
