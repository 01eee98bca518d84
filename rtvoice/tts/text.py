"""Text handling before phonemisation: what a voice can say, blocks of text, pieces of long sentences.

- :func:`sayable` drops characters the voice cannot say (emoji, pictographs, letters of scripts the
  voice's language does not use, control characters) and reports them, so espeak-ng neither reads
  emoji names aloud nor spells foreign letters one by one.
- :func:`text_blocks` cuts long text at sentence ends into blocks that are phonemised one at a time,
  so 10,000 characters stream with bounded memory.
- :func:`plan_pieces` cuts a long sentence's phonemes at clause boundaries (``, ; :``), or word
  boundaries when a clause is too long, so the encoder never sees more than a bounded number of
  phonemes and the first piece of an utterance is short enough for first audio within budget.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# Scripts (first word of the Unicode character name) that espeak-ng voices of these languages read.
# Latin letters are always allowed: every espeak-ng voice reads them.
_LANGUAGE_SCRIPTS = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tt", "ba", "cv", "mn"), ("CYRILLIC",)),
    **dict.fromkeys(("el", "grc"), ("GREEK",)),
    **dict.fromkeys(("ar", "fa", "ur", "ps", "sd", "ug"), ("ARABIC",)),
    **dict.fromkeys(("he", "yi"), ("HEBREW",)),
    **dict.fromkeys(("hi", "mr", "ne", "sa", "kok", "mai", "bh"), ("DEVANAGARI",)),
    **dict.fromkeys(("bn", "as", "bpy"), ("BENGALI",)),
    "ta": ("TAMIL",), "te": ("TELUGU",), "kn": ("KANNADA",), "ml": ("MALAYALAM",), "gu": ("GUJARATI",),
    "pa": ("GURMUKHI",), "si": ("SINHALA",), "or": ("ORIYA",), "th": ("THAI",), "lo": ("LAO",),
    "my": ("MYANMAR",), "km": ("KHMER",), "ka": ("GEORGIAN",), "hy": ("ARMENIAN",), "am": ("ETHIOPIC",),
    **dict.fromkeys(("zh", "cmn", "yue", "hak"), ("CJK", "IDEOGRAPHIC", "BOPOMOFO")),
    "ja": ("HIRAGANA", "KATAKANA", "CJK", "IDEOGRAPHIC", "HALFWIDTH"),
    "ko": ("HANGUL",),
}
_NEUTRAL_NAMES = ("DIGIT", "COMBINING", "MODIFIER", "SUPERSCRIPT", "SUBSCRIPT", "VULGAR", "ROMAN")


@dataclass(frozen=True)
class SayableText:
    text: str  # what will be phonemised (skipped characters replaced by spaces)
    skipped: str  # the distinct characters skipped, in order of first appearance
    skipped_count: int


def voice_scripts(espeak_voice: str) -> tuple[str, ...] | None:
    """Scripts a voice reads besides Latin; None when unknown (then no letter is skipped)."""
    language = (espeak_voice or "").lower().split("-")[0].split("_")[0]
    if language in _LANGUAGE_SCRIPTS:
        return ("LATIN",) + _LANGUAGE_SCRIPTS[language]
    if language and len(language) <= 3 and language.isalpha():
        return ("LATIN",)  # espeak-ng's other languages are written in Latin script
    return None


def _char_ok(ch: str, scripts: tuple[str, ...] | None) -> bool:
    if ch.isspace():
        return True
    code = ord(ch)
    category = unicodedata.category(ch)
    if category[0] == "C":  # control, format (zero-width joiner), private use, unassigned, surrogate
        return False
    name = unicodedata.name(ch, "")
    if name.startswith("VARIATION SELECTOR") or "EMOJI" in name:
        return False
    if category[0] == "S":  # symbols: keep currency and Latin-1/ASCII ones (%, +, ©, °); drop emoji & co.
        return category == "Sc" or code < 0x100 or 0x2100 <= code < 0x2150
    if category[0] in "PZ":
        return code < 0x2070 or 0x3000 <= code < 0x3040 and scripts is not None and "CJK" in scripts
    if category[0] == "N" and category != "No":
        return True
    if scripts is None:
        return True
    head = name.split(" ")[0]
    if head in _NEUTRAL_NAMES or category[0] == "M":
        return True
    return any(name.startswith(s) for s in scripts)


def sayable(text: str, espeak_voice: str, phoneme_type: str = "espeak",
            id_map: dict | None = None) -> SayableText:
    """Replace characters the voice cannot say with spaces; report which were skipped.

    For ``phoneme_type == "text"`` voices (characters are the phonemes) a character is sayable when it
    (decomposed) is in the voice's ``id_map``.
    """
    if phoneme_type == "text" and id_map:
        def ok(ch: str) -> bool:
            return ch.isspace() or all(c in id_map for c in unicodedata.normalize("NFD", ch))
    else:
        scripts = voice_scripts(espeak_voice) if phoneme_type == "espeak" else None

        def ok(ch: str) -> bool:
            return _char_ok(ch, scripts)

    if text.isascii() and all(ch.isprintable() or ch.isspace() for ch in text) and phoneme_type != "text":
        return SayableText(text, "", 0)
    out, skipped, count = [], {}, 0
    for ch in text:
        if ok(ch):
            out.append(ch)
        else:
            count += 1
            skipped.setdefault(ch, None)
            out.append(" ")
    return SayableText("".join(out), "".join(skipped), count)


_SENTENCE_END = re.compile(r"(?<=[.!?;:…。！？])[\"')\]]*\s+")


def text_blocks(text: str, max_chars: int = 1000) -> Iterator[str]:
    """Consecutive blocks of at most ``max_chars`` characters, cut after sentence ends where possible,
    else at whitespace, else hard. Whitespace-only blocks are not yielded."""
    if max_chars < 16:
        raise ValueError(f"max_chars must be >= 16, got {max_chars}")
    start, n = 0, len(text)
    while start < n:
        if n - start <= max_chars:
            cut = n
        else:
            window = text[start:start + max_chars]
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            if ends and ends[-1] > max_chars // 4:
                cut = start + ends[-1]
            else:
                space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
                cut = start + (space + 1 if space > max_chars // 4 else max_chars)
        block = text[start:cut]
        if block.strip():
            yield block
        start = cut


_CLAUSE_MARKS = frozenset(",;:")


def plan_pieces(phonemes: list[str], first_limit: int, max_limit: int, min_piece: int = 8) -> list[list[str]]:
    """Cut one sentence's phonemes into pieces of at most ``first_limit`` (first piece) and
    ``max_limit`` phonemes (the rest), at clause boundaries (a space after ``, ; :``) when one falls in
    the last two thirds of the allowed length, else at the last word boundary, else hard."""
    if first_limit < min_piece or max_limit < min_piece:
        raise ValueError("piece limits must be >= min_piece")
    pieces: list[list[str]] = []
    rest = phonemes
    limit = first_limit
    while len(rest) > limit:
        clause = word = -1
        for i in range(min(limit, len(rest) - 1), min_piece - 1, -1):
            if rest[i] != " ":
                continue
            if word < 0:
                word = i
            if i > 0 and rest[i - 1] in _CLAUSE_MARKS:
                clause = i
                break
        if clause >= limit // 3:
            cut = clause
        elif word >= 0:
            cut = word
        else:
            cut = limit
        piece = rest[:cut]
        rest = rest[cut + 1:] if cut < len(rest) and rest[cut] == " " else rest[cut:]
        if piece:
            pieces.append(piece)
        limit = max_limit
    if rest:
        pieces.append(rest)
    return pieces
