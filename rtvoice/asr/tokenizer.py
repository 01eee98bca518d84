"""Whisper's text tokens, read with the `tokenizers` package from a model's ``tokenizer.json``.

Special tokens (start of transcript, language, task, no-timestamps, previous-text marker) are looked up by
name, so the same code serves English-only and multilingual models of any size.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from rtvoice.errors import ModelError

_PUNCTUATION = set(string.punctuation) | {"…", "。", "、", "，", "？", "！", "“", "”", "‘", "’", "«", "»"}
# Punctuation that belongs to the word after it rather than the one before (an opening quote or bracket).
_OPENING = set("\"'“¿([{-«‘")
# Punctuation after which a word is complete (a hyphen or apostrophe may continue it).
_CLOSING = set(".,!?;:…)]}\"”»。、，？！")


@dataclass(frozen=True)
class WordTokens:
    """A word of a decoded sequence: its text (with its leading space) and the indices of its tokens."""

    text: str
    first: int  # index of the word's first token in the sequence
    last: int  # index one past its last token


class WhisperTokenizer:
    """Encode/decode Whisper text and build the decoder's start sequence.

    Args:
        path: the model's ``tokenizer.json``.
        multilingual: whether the model takes language and task tokens.
        language: ISO code used for multilingual models (ignored by English-only ones).
    """

    def __init__(self, path: Path, multilingual: bool, language: str = "en"):
        try:
            import tokenizers
        except ImportError as error:  # pragma: no cover - dependency missing
            raise ModelError("the `tokenizers` package is required for speech recognition") from error
        try:
            self._tok = tokenizers.Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises a bare Exception on bad JSON
            raise ModelError(f"{path} is not a readable tokenizer.json ({error})") from error
        self.multilingual = multilingual
        self.language = language
        self.eot = self._special("<|endoftext|>")
        self.sot = self._special("<|startoftranscript|>")
        self.sot_prev = self._special("<|startofprev|>")
        self.no_timestamps = self._special("<|notimestamps|>")
        self.transcribe = self._special("<|transcribe|>")
        self.translate = self._special("<|translate|>") if multilingual else None
        if multilingual:
            self.language_token = self.language_token_of(language)
        else:
            self.language_token = None
        self._piece_cache: dict[int, str] = {}

    def _special(self, name: str) -> int:
        token = self._tok.token_to_id(name)
        if token is None:
            raise ModelError(f"tokenizer has no {name} token (not a Whisper tokenizer, or wrong language code)")
        return token

    def language_token_of(self, language: str) -> int:
        """The token of a language code (``de`` → ``<|de|>``); a code Whisper does not know is a ModelError."""
        return self._special(f"<|{language}|>")

    @property
    def sot_sequence(self) -> list[int]:
        """Start of the decoder input: <|startoftranscript|> [<|lang|> <|transcribe|>] (no timestamps token)."""
        return self.sot_sequence_for()

    def sot_sequence_for(self, language: str | None = None, task: str = "transcribe") -> list[int]:
        """The start sequence for `language` (None: the tokenizer's own) and task ("transcribe", or
        "translate": Whisper's any-language → English task); English-only models take neither."""
        if not self.multilingual:
            if task != "transcribe":
                raise ModelError("an English-only Whisper model cannot translate (use a multilingual model)")
            return [self.sot]
        token = self.language_token if language is None else self.language_token_of(language)
        return [self.sot, token, self.translate if task == "translate" else self.transcribe]

    def prompt(self, prefix: list[int] = (), previous: list[int] = (), max_previous: int = 223,
               language: str | None = None, task: str = "transcribe") -> list[int]:
        """Decoder prompt: optional previous text, the start sequence, no-timestamps, then a forced prefix."""
        head = [self.sot_prev, *list(previous)[-max_previous:]] if previous else []
        return [*head, *self.sot_sequence_for(language, task), self.no_timestamps, *prefix]

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, tokens) -> str:
        return self._tok.decode([t for t in tokens if t < self.eot], skip_special_tokens=True)

    def piece(self, token: int) -> str:
        """Text of one token on its own (may be a fragment of a multi-byte character)."""
        text = self._piece_cache.get(token)
        if text is None:
            text = self._tok.decode([token], skip_special_tokens=False)
            self._piece_cache[token] = text
        return text

    def starts_word(self, token: int) -> bool:
        """Whether the word before `token` is complete once `token` follows it: `token` starts with a space or
        is closing punctuation (a hyphen or an apostrophe may continue the word)."""
        piece = self.piece(token)
        return piece.startswith(" ") or (piece != "" and all(c in _CLOSING for c in piece))

    def split_words(self, tokens: list[int]) -> list[WordTokens]:
        """Group text tokens into words: a token starting with a space opens a word; punctuation joins the word
        before it (or the word after it for opening quotes/brackets); multi-byte characters split across tokens
        are kept whole."""
        words: list[WordTokens] = []
        pending_open: int | None = None  # index of an opening punctuation token waiting for its word
        i = 0
        while i < len(tokens):
            # Take the shortest run of tokens that decodes to whole characters.
            j = i + 1
            while j < len(tokens) and "\ufffd" in self._tok.decode(tokens[i:j]) and j - i < 8:
                j += 1
            piece = self._tok.decode(tokens[i:j])
            stripped = piece.strip()
            is_punct = stripped != "" and all(c in _PUNCTUATION for c in stripped)
            if is_punct and stripped[0] in _OPENING and (piece.startswith(" ") or not words) and pending_open is None:
                pending_open = i
            elif pending_open is not None:
                words.append(WordTokens(self._tok.decode(tokens[pending_open:j]), pending_open, j))
                pending_open = None
            elif words and (is_punct or not piece.startswith(" ")):
                last = words[-1]
                words[-1] = WordTokens(self._tok.decode(tokens[last.first:j]), last.first, j)
            else:
                words.append(WordTokens(piece, i, j))
            i = j
        if pending_open is not None:
            words.append(WordTokens(self._tok.decode(tokens[pending_open:]), pending_open, len(tokens)))
        return words
