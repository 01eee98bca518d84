"""Prepared finals: where the VAD says a trailing silence began and speech resumed, and the final decoded in
such a silence (StreamingConfig.prepare_finals; the module docstring of rtvoice.asr.streaming)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtvoice.asr.whisper import Transcript


class SpeechFollower:
    """The VAD's per-chunk speech probabilities, followed as the endpointer follows them: where each trailing
    silence began (its first chunk under `neg_threshold` after speech) and where speech resumed (the next
    chunk at `threshold` or more). Samples are stream samples."""

    def __init__(self, threshold: float, neg_threshold: float, pad_after: int, chunk: int):
        self.threshold, self.neg_threshold = threshold, neg_threshold
        self.pad_after, self.chunk = pad_after, chunk
        self.silences: list[list] = []  # [start, resumed or None], in stream order
        self.known_end = 0  # probabilities are known for every chunk ending by this sample
        self._in_speech = False

    def accept(self, starts, probabilities) -> None:
        for start, probability in zip(np.asarray(starts).tolist(), np.asarray(probabilities).tolist()):
            if start < self.known_end:
                continue  # already seen
            if probability >= self.threshold:
                if self.silences and self.silences[-1][1] is None:
                    self.silences[-1][1] = start
                self._in_speech = True
            elif probability < self.neg_threshold and self._in_speech:
                self.silences.append([start, None])
                self._in_speech = False
            self.known_end = start + self.chunk

    def chunk_end(self, sample: int) -> int:
        """End of the chunk that holds sample `sample` - 1."""
        return -(-sample // self.chunk) * self.chunk

    def drop_before(self, sample: int) -> None:
        self.silences = [s for s in self.silences if s[1] is None or s[1] >= sample]


WAIT = object()  # a decode point that waits for the VAD (see StreamingRecognizer._prepare_due)


@dataclass
class PreparedFinal:
    silence: list  # the follower's [start, resumed] it was prepared in
    end: int  # the stream sample the decode ran to: the endpointer's end, should this silence end the segment
    context: tuple  # (context start sample, context tokens) it was decoded with
    result: Transcript
