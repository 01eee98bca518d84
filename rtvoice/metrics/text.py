"""English text normalisation for scoring word error rates (WER).

Both the reference and the hypothesis go through :func:`normalize_english` before jiwer compares them:

1. Unicode NFKC, lower-case; curly quotes become straight ones.
2. "mr." / "mrs." / "dr." / "st." are spelled out (mister, missus, doctor, saint).
3. Hyphens and dashes become spaces ("cold-hearted" = "cold hearted"); "&" becomes "and".
4. Whole numbers from 0 to 99 are spelled out ("10" = "ten", "42" = "forty two").
5. Every other character that is not a letter, digit, apostrophe inside a word or space is removed.
6. Runs of spaces collapse to one.

It is deliberately small (no spelling variants, no contractions): what it changes is listed above.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalize_english(text: str) -> str:
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
