"""A CEA-608 (line 21) caption encoder for live roll-up captions.

Roll-up is how live television captions: the bottom rows of the screen scroll up a line at a time as new lines
come (2, 3 or 4 rows visible, 32 columns). Every caption line is sent as ``RU3 CR PAC text``: the roll-up code
(re-sent with each line so a viewer who tunes in mid-way gets the mode), a carriage return (the rows move up,
the base row is cleared), a preamble address code that puts the cursor at row 15, column 0, and the text.

Bytes: each is 7 bits with odd parity in the 8th. A control code, a special character and an extended character
are a byte pair whose first byte is 0x10-0x1F; the standard has them sent twice in a row (a receiver ignores
the repeat, so one lost to noise is not missed). Text goes two characters a pair; an odd one out is padded
with a null (0x00, 0x80 with its parity).

Characters (CEA-608's character set, which is not ASCII): the basic set is ASCII 0x20-0x7F with nine
places given to á é í ó ú ç ÷ Ñ ñ (and the solid block); the special set (one pair each) adds ® ° ½ ¿ ™ ¢ £ ♪
à è â ê î ô û; the extended Spanish/French and Portuguese/German sets (one pair each) add Á É Ó Ú Ü ü ¡ Ã ã Õ õ Í
À Â Ç È Ê Ë ë Î Ï ï Ô Ù ù Û « » ' " — and the ASCII characters the basic set gave up ({ } \\ ^ _ | ~ *). An
extended character makes the receiver delete the character before it, so it is sent after a basic fallback
(A for Ã): an old receiver shows the fallback. Anything else is its nearest letter without the accent, or ?,
and counted.

Channels: CC1 and CC2 are field 1 (the second one's control codes have bit 0x08 set in their first byte), CC3
and CC4 field 2 with the same codes, except that the miscellaneous control codes (RU, CR, EDM, ...) of field 2
have 0x15 (0x1D) where field 1 has 0x14 (0x1C).
"""

from __future__ import annotations

import unicodedata

ROWS = (2, 3, 4)
COLUMNS = 32

# Basic characters that are not their ASCII selves (the rest of 0x20-0x7F is ASCII).
_BASIC = {"á": 0x2A, "é": 0x5C, "í": 0x5E, "ó": 0x5F, "ú": 0x60, "ç": 0x7B, "÷": 0x7C, "Ñ": 0x7D, "ñ": 0x7E,
          "█": 0x7F}
_NOT_ASCII = {0x2A, 0x5C, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F}
# Special characters: first byte 0x11, second byte.
_SPECIAL = {"®": 0x30, "°": 0x31, "½": 0x32, "¿": 0x33, "™": 0x34, "¢": 0x35, "£": 0x36, "♪": 0x37, "à": 0x38,
            "è": 0x3A, "â": 0x3B, "ê": 0x3C, "î": 0x3D, "ô": 0x3E, "û": 0x3F}
# Extended characters: (first byte, second byte).
_EXTENDED = {
    **{ch: (0x12, 0x20 + i) for i, ch in enumerate("ÁÉÓÚÜü‘¡*’—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»")},
    **{ch: (0x13, 0x20 + i) for i, ch in enumerate("ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘")},
}
_PUNCTUATION = {"'": "'", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                "\u2014": "-", "\u2026": "...", "\u00a0": " "}

# Miscellaneous control codes (second byte; first byte 0x14 for CC1).
RU = {2: 0x25, 3: 0x26, 4: 0x27}
CR = 0x2D  # carriage return: roll up
EDM = 0x2C  # erase displayed memory
ROW15_INDENT0 = (0x14, 0x70)  # preamble address code: row 15, column 0, white


def parity(byte: int) -> int:
    """`byte` (7 bits) with the odd-parity bit 7 set where its ones are even."""
    byte &= 0x7F
    return byte | (0x80 if bin(byte).count("1") % 2 == 0 else 0)


class Cea608Encoder:
    """Roll-up caption lines as CEA-608 byte pairs (with parity) for one caption channel.

    Args:
        channel: 1-4 (CC1, CC2 field 1; CC3, CC4 field 2).
        rows: roll-up depth, 2-4 rows.
    """

    def __init__(self, channel: int = 1, rows: int = 3):
        if channel not in (1, 2, 3, 4):
            raise ValueError(f"channel must be 1-4 (CC1-CC4), got {channel}")
        if rows not in ROWS:
            raise ValueError(f"roll-up rows must be 2, 3 or 4, got {rows}")
        self.channel = channel
        self.rows = rows
        self.replaced = 0  # characters sent as a near letter or ? (outside CEA-608's character set)

    @property
    def field(self) -> int:
        return 1 if self.channel <= 2 else 2

    def _first(self, byte: int, misc: bool = False) -> int:
        """A control pair's first byte on this channel (0x08: the second channel of a field; misc codes of
        field 2: 0x15 for 0x14)."""
        if misc and self.field == 2:
            byte += 1
        return byte | (0x08 if self.channel in (2, 4) else 0)

    def _control(self, first: int, second: int, misc: bool = False) -> list[tuple[int, int]]:
        pair = (parity(self._first(first, misc)), parity(second))
        return [pair, pair]  # sent twice

    def line(self, text: str) -> list[tuple[int, int]]:
        """One caption line (at most COLUMNS characters shown; longer text is cut): roll-up, carriage return,
        row 15 column 0, the text."""
        pairs = (self._control(0x14, RU[self.rows], misc=True) + self._control(0x14, CR, misc=True)
                 + self._control(*ROW15_INDENT0))
        return pairs + self.text(text)

    def erase(self) -> list[tuple[int, int]]:
        """Clear the screen (erase displayed memory)."""
        return self._control(0x14, EDM, misc=True)

    def text(self, text: str) -> list[tuple[int, int]]:
        """Characters as byte pairs: basic ones two a pair, special and extended ones a (doubled) pair each."""
        pairs: list[tuple[int, int]] = []
        pending: list[int] = []  # a basic character waiting for its partner

        def flush() -> None:
            if pending:
                pairs.append((parity(pending[0]), parity(pending[1]) if len(pending) > 1 else parity(0)))
                pending.clear()

        columns = 0
        for ch in self._characters(text):
            if columns >= COLUMNS:
                break
            columns += 1
            kind, code = ch
            if kind == "basic":
                pending.append(code)
                if len(pending) == 2:
                    flush()
                continue
            if kind == "special":
                flush()
                pairs += self._control(0x11, code)
                continue
            fallback, (first, second) = code  # extended: a basic fallback, then the code that replaces it
            pending.append(fallback)
            flush()
            pairs += self._control(first, second)
        flush()
        return pairs

    def _characters(self, text: str):
        for ch in unicodedata.normalize("NFC", text):
            yield from self._character(ch)

    def _character(self, ch: str):
        if ch in _BASIC:
            yield "basic", _BASIC[ch]
        elif ch in _SPECIAL:
            yield "special", _SPECIAL[ch]
        elif ch in _EXTENDED:
            yield "extended", (self._fallback(ch), _EXTENDED[ch])
        elif 0x20 <= ord(ch) < 0x7F and ord(ch) not in _NOT_ASCII:
            yield "basic", ord(ch)
        elif ch in _PUNCTUATION:
            for part in _PUNCTUATION[ch]:
                yield from self._character(part)
        else:
            self.replaced += 1
            base = unicodedata.normalize("NFKD", ch)[0]
            yield "basic", ord(base) if 0x20 <= ord(base) < 0x7F and ord(base) not in _NOT_ASCII else ord("?")

    @staticmethod
    def _fallback(ch: str) -> int:
        """The basic character an extended one replaces (its letter without the accent, else a look-alike)."""
        base = unicodedata.normalize("NFKD", ch)[0]
        if 0x20 <= ord(base) < 0x7F and ord(base) not in _NOT_ASCII:
            return ord(base)
        return {"{": ord("("), "}": ord(")"), "\\": ord("/"), "|": ord("!"), "~": ord("-"), "_": ord("-"),
                "^": ord("'"), "*": ord("."), "—": ord("-"), "«": ord('"'), "»": ord('"'), "“": ord('"'),
                "”": ord('"'), "‘": ord("'"), "’": ord("'"), "¡": ord("!"), "ß": ord("s")}.get(ch, ord(" "))


def display_width(text: str) -> int:
    """Columns `text` takes on a 608 screen (each character one column; ... for … counts three)."""
    return sum(len(_PUNCTUATION.get(ch, ch)) for ch in unicodedata.normalize("NFC", text))
