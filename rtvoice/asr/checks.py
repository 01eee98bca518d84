"""Signs that a decoded text is not what was said (a hallucination): what makes a final fall back to the
30 s window and a partial be discarded."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class HallucinationChecks:
    """Signs that a decoded text is not what was said (Whisper's own thresholds where it has them)."""

    max_compression_ratio: float = 2.4  # gzip ratio of the text (Whisper's threshold)
    min_avg_logprob: float = -1.0  # Whisper's threshold
    max_words_per_second: float = 5.0  # fast speech is ~4 words/s; judged over at least 1 s
    max_short_repeats: int = 3  # a group of 1-3 words said this many times in a row

    def problems(self, text: str, avg_logprob: float, seconds: float, truncated: bool) -> list[str]:
        found = []
        words = text.split()
        encoded = text.strip().encode("utf-8")
        if len(encoded) >= 24:
            ratio = len(encoded) / len(zlib.compress(encoded))
            if ratio > self.max_compression_ratio:
                found.append(f"compression ratio {ratio:.2f}")
        if avg_logprob < self.min_avg_logprob:
            found.append(f"avg log-prob {avg_logprob:.2f}")
        if len(words) > self.max_words_per_second * max(seconds, 1.0) + 1:
            found.append(f"{len(words)} words in {seconds:.2f} s")
        repeated = _repeated_run(_PIECE.findall(text), self.max_short_repeats)
        if repeated is not None:
            found.append(f"repeated {repeated!r}")
        if truncated:
            found.append("no end of text before the length limit")
        return found


# Letters, digits and inner apostrophes: "old-s-s-y-y-y" is six pieces, so a loop glued together by
# hyphens (seen on captured audio: "He was not an old-s-s-y-y-y-y-y") is a repeat like any other.
_PIECE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def _repeated_run(words: list[str], short_repeats: int = 3, long_words: int = 4, near: int = 16) -> str | None:
    """Words said again right after themselves, Whisper's usual hallucination: a group of fewer than
    `long_words` words `short_repeats` times in a row, or the same `long_words` words again within `near`
    words (a sentence starting over, completely or not)."""
    keys = [w.lower() for w in words]
    n_words = len(keys)
    for n in range(1, long_words):
        for start in range(0, n_words - n * short_repeats + 1):
            group = keys[start:start + n]
            if all(keys[start + k * n:start + (k + 1) * n] == group for k in range(1, short_repeats)):
                return " ".join(words[start:start + n])
    seen: dict[tuple[str, ...], int] = {}
    for start in range(0, n_words - long_words + 1):
        group = tuple(keys[start:start + long_words])
        earlier = seen.get(group)
        if earlier is not None and long_words <= start - earlier <= near:
            return " ".join(words[start:start + long_words])
        seen[group] = start
    return None

