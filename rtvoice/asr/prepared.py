"""Prepared finals (StreamingConfig.prepare_finals): the endpointer reports an end of speech only after
``min_silence`` of silence, at the sample where that silence began plus ``pad_after``. As soon as the VAD has
told that a silence in the open segment lasts ``pad_after`` (``StreamingConfig.prepare_on_silence``; else at
the first decode point in it), the final is decoded on exactly the audio that end will cover, kept, and taken
as a partial hypothesis. The end, when it comes there, emits the kept final: its decode overlaps the
endpointer's wait. A prepared decode that the hallucination checks flag is decoded again on the 30 s window
there and then, as the end would (``StreamingConfig.prepare_fallback``). Decode points in that silence are not
decoded while it lasts; speech that resumes drops the kept final (counted) and is decoded at the next decode
point as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtvoice.asr.config import StreamingStats
from rtvoice.asr.transcript import Transcript


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


WAIT = object()  # a decode point that waits for the VAD (see PreparedFinals.due)


@dataclass
class PreparedFinal:
    silence: list  # the follower's [start, resumed] it was prepared in
    end: int  # the stream sample the decode ran to: the endpointer's end, should this silence end the segment
    context: tuple  # (context start sample, context tokens) it was decoded with
    result: Transcript


class PreparedFinals:
    """Follows the VAD's speech probabilities and keeps the final prepared in a trailing silence, until the
    end of speech takes it or speech resumes. Samples are stream samples.

    Args:
        prepare_on_silence: prepare as soon as the VAD has told that the silence lasts pad_after, not at the
            next decode point in the silence (StreamingConfig.prepare_on_silence).
        stats: counts prepared finals used and unused, and the decode points passed over in their silence.
    """

    def __init__(self, prepare_on_silence: bool, stats: StreamingStats):
        self.prepare_on_silence = prepare_on_silence
        self.stats = stats
        self.speech: SpeechFollower | None = None  # None: the caller passes no probabilities, nothing prepared
        self.prepared: PreparedFinal | None = None
        self.silence_seen = -1  # start of the last trailing silence considered for a prepared final

    def follow(self, threshold: float, neg_threshold: float, pad_after: int, chunk: int) -> None:
        self.speech = SpeechFollower(threshold, neg_threshold, int(pad_after), int(chunk))

    def accept(self, starts, probabilities) -> None:
        if self.speech is not None and len(starts):
            self.speech.accept(starts, probabilities)

    def reach(self, audio_end: int) -> int:
        """Decode points up to this stream sample may be decoded: the audio is there (up to `audio_end`) and,
        when following the VAD, the speech probabilities of the chunks before them."""
        if self.speech is None:
            return audio_end
        return min(audio_end, self.speech.known_end + self.speech.chunk - 1)

    def due(self, next_point: int, reach: int, segment_start: int, audio_end: int):
        """What the decode point reached now (`next_point`, the audio known up to `reach`) should be: (silence,
        end) of a final to prepare in its place, when the point lies in a silence of the open segment that has
        lasted pad_after (the endpointer's end would be `end`); WAIT while the VAD has not yet told whether it
        does; None: an ordinary partial. Silences that ended sooner are passed over."""
        follower = self.speech
        if follower is None or self.prepared is not None:
            return None
        if not self.prepare_on_silence and next_point > reach:
            return None
        for silence in follower.silences:
            start, resumed = silence
            if start <= self.silence_seen or start <= segment_start:
                continue
            if next_point < start:
                return None
            end = start + follower.pad_after
            ready = follower.chunk_end(end)
            if resumed is not None and resumed < ready:
                self.silence_seen = start  # speech resumed within pad_after: not an end
                continue
            if follower.known_end < ready or audio_end < end:
                return WAIT
            return silence, end
        return None

    def open_silence(self, segment_start: int) -> tuple[int, int] | None:
        """(start, ready) of the trailing silence the open segment (from `segment_start`) is in, if the VAD has
        told of one that speech has not yet broken and no final was prepared in: it began at `start`, and the
        VAD tells that it lasts pad_after once the chunk ending at `ready` is known."""
        if self.speech is None or self.prepared is not None or not self.speech.silences:
            return None
        start, resumed = self.speech.silences[-1]
        if resumed is not None or start <= self.silence_seen or start <= segment_start:
            return None
        return start, self.speech.chunk_end(start + self.speech.pad_after)

    def silent_at(self, end: int) -> bool:
        """A decode point at `end` lies in the silence a final was prepared in (nothing new to hear, and a
        commit would change the final's prefix): counted, not decoded. Past it speech resumed: the prepared
        final is dropped (counted) and the point decoded."""
        prepared = self.prepared
        if prepared is None:
            return False
        resumed = prepared.silence[1]
        if resumed is None or resumed + self.speech.chunk > end:
            self.stats.silent_partials += 1
            return True
        self.prepared = None  # speech resumed: not the end
        self.stats.prepared_unused += 1
        return False

    def open(self, start: int) -> None:
        """A segment (or the rest of a split one) begins at `start`: a final prepared before is not used."""
        if self.prepared is not None:
            self.prepared = None
            self.stats.prepared_unused += 1
        if self.speech is not None:
            self.speech.drop_before(start)

    def take(self, end: int, forced: bool, committed: list[int], context_unchanged) -> PreparedFinal | None:
        """The prepared final, if it is this segment's final: the end (`end`, not `forced`) it was prepared
        for, the `committed` tokens its prefix, and `context_unchanged(its context snapshot)`."""
        prepared, self.prepared = self.prepared, None
        if prepared is None:
            return None
        if (not forced and prepared.end == end
                and prepared.result.tokens[:len(committed)] == committed
                and context_unchanged(prepared.context)):
            self.stats.prepared_finals += 1
            return prepared
        self.stats.prepared_unused += 1
        return None
