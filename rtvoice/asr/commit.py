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
