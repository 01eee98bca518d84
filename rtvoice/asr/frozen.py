"""Frozen committed words (StreamingConfig.freeze_committed_s): once the committed words a long segment's
decodes start with span more than freeze_committed_s, the decodes start later, at the first committed word
within context_audio_s of the last one. The words before it are frozen: given as the text prompt, not
decoded again, their word times kept from the decode that froze them. CTranslate2 forces a prefix token one
decoder step at a time, as dearly as it generates one, so this bounds a decode however long the segment."""

from __future__ import annotations

from rtvoice.asr.tokenizer import WhisperTokenizer
from rtvoice.asr.transcript import Word
from rtvoice.asr.window import SAMPLE_RATE


class FrozenWords:
    """Where an open segment's decodes start: stream sample `decode_start`, after its first `tokens`
    committed tokens, whose words (times in s from the segment start) are `words`.

    Args:
        freeze_committed_s: span of committed words (s) past which earlier ones are frozen (0: never).
        keep_s: seconds of committed words a decode still covers (StreamingConfig.context_audio_s).
        tokenizer: the recognizer's (to split tokens into words).
    """

    def __init__(self, freeze_committed_s: float, keep_s: float, tokenizer: WhisperTokenizer):
        self.freeze_committed_s = freeze_committed_s
        self.keep_s = keep_s
        self.tokenizer = tokenizer
        self.decode_start = 0
        self.tokens = 0
        self.words: list[Word] = []

    def reset(self, segment_start: int) -> None:
        """A segment begins at stream sample `segment_start`: nothing frozen."""
        self.decode_start, self.tokens, self.words = segment_start, 0, []

    def wants_word_times(self, end: int, detects_language: bool) -> bool:
        """A decode up to stream sample `end` may commit enough words to freeze some: its word times are
        needed. Never while the language is detected (a final may decode the segment again from scratch)."""
        span = self.freeze_committed_s
        return bool(span) and not detects_language and end - self.decode_start > span * SAMPLE_RATE

    def freeze(self, hypothesis: list[int], words: list[Word], committed: int, segment_start: int) -> bool:
        """Once the committed words (the first `committed` tokens of `hypothesis`) after the frozen ones span
        more than freeze_committed_s, freeze those before the last keep_s of them (`words`: the
        hypothesis's, times from the segment start, which begins at stream sample `segment_start`). Returns
        whether it froze more words."""
        pieces = self.tokenizer.split_words(hypothesis)
        if len(pieces) != len(words):
            return False
        in_reach = [i for i, piece in enumerate(pieces) if self.tokens <= piece.first and piece.last <= committed]
        if not in_reach:
            return False
        start_s = (self.decode_start - segment_start) / SAMPLE_RATE
        last_end = words[in_reach[-1]].end
        if last_end - start_s <= self.freeze_committed_s:
            return False
        keep_from = last_end - self.keep_s
        first_kept = next((i for i in in_reach if words[i].start >= keep_from and pieces[i].first > self.tokens),
                          None)
        if first_kept is None:
            return False
        self.tokens = pieces[first_kept].first
        self.words = list(words[:first_kept])
        self.decode_start = segment_start + int(round(words[first_kept].start * SAMPLE_RATE))
        return True
