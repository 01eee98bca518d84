"""Text normalisation for scoring word error rates (WER), and for matching words one by one.

Every English WER goes through :func:`normalize_english`, Whisper's own ``EnglishTextNormalizer`` (PyPI
``whisper-normalizer``, as the Open ASR Leaderboard and most published Whisper figures score): lower case,
spelling made American ("colour" = "color"), contractions written out ("don't" = "do not"), numbers written
as digits whatever their size ("fourteen fifty-five" = "1455", "ten" = "10"), "mr." = "mister",
punctuation and hyphens removed, fillers ("um", "hmm") dropped. Its figures can be compared with other
projects'.

:func:`normalize_words` is rtvoice's earlier hand-written normaliser, kept for what a WER normaliser cannot
do: normalise words one at a time the same way as in running text (it never joins words: "fourteen fifty
five" stays three words), so the latency accounting (:mod:`rtvoice.metrics.latency`) can match the words of
a partial with a final's words. Its rules:

1. Unicode NFKC, lower-case; curly quotes become straight ones.
2. "mr." / "mrs." / "dr." / "st." are spelled out (mister, missus, doctor, saint).
3. Hyphens and dashes become spaces ("cold-hearted" = "cold hearted"); "&" becomes "and".
4. Whole numbers from 0 to 99 are spelled out ("10" = "ten", "42" = "forty two").
5. Every other character that is not a letter, digit, apostrophe inside a word or space is removed.
6. Runs of spaces collapse to one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def _number_words(match: re.Match) -> str:
    n = int(match.group(0))
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])


@functools.cache
def _whisper_english():
    with warnings.catch_warnings():  # whisper-normalizer 0.1.15's docstrings hold invalid escapes ("\\X")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize_english(text: str) -> str:
    """English text as Whisper's ``EnglishTextNormalizer`` writes it, for WER (module docstring)."""
    return _whisper_english()(text)


def normalize_words(text: str) -> str:
    """English words normalised one by one, the same alone as in running text, for matching words (module
    docstring); not for WER."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("&", " and ")
    text = re.sub(r"\b(mrs|mr|dr|st)\.", lambda m: _ABBREVIATIONS[m.group(1)], text)
    text = re.sub(r"[-\u2010-\u2015]", " ", text)
    text = re.sub(r"(?<![\d.,])\b\d{1,2}\b(?![.,]\d)", _number_words, text)
    text = re.sub(r"[^\w' ]+", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)  # quotes, not apostrophes inside words
    return " ".join(text.split())


def normalize_multilingual(text: str, language: str) -> str:
    """Normalisation for WER/CER in any language (FLEURS-style references): NFC, lower-case, every
    character that is not a letter, digit or space removed (apostrophes and hyphens become spaces, as
    FLEURS writes some and not others), runs of spaces collapsed. For languages written without spaces
    (zh, ja) all spaces are removed: score those by character error rate. No numbers are spelled out."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[^\w\s]|_", " ", text)
    if language in ("zh", "ja"):
        return "".join(text.split())
    return " ".join(text.split())
