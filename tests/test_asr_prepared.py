"""Prepared finals alone (rtvoice.asr.prepared): the VAD's probabilities followed as the endpointer follows
them, when a final is prepared in a silence, and when the end takes it; chunk arithmetic with the
endpointer's own settings (test_prepared_finals.py streams real speech through the real VAD)."""

from __future__ import annotations

from asr_parts_support import transcript

from rtvoice.asr.config import StreamingStats
from rtvoice.asr.prepared import WAIT, PreparedFinal, PreparedFinals
from rtvoice.frontend.vad import CHUNK_SAMPLES, EndpointerConfig

CHUNK = CHUNK_SAMPLES
CONFIG = EndpointerConfig()
PAD_AFTER = round(CONFIG.pad_after_ms * 16000 / 1000)
SPEECH, SILENCE = 0.9, 0.1


def follower(probabilities: list[float], on_silence: bool = True) -> PreparedFinals:
    prepared = PreparedFinals(on_silence, StreamingStats())
    prepared.follow(CONFIG.threshold, CONFIG.neg_threshold, PAD_AFTER, CHUNK)
    prepared.accept([i * CHUNK for i in range(len(probabilities))], probabilities)
    return prepared


def chunk_end(sample: int) -> int:
    return -(-sample // CHUNK) * CHUNK


SILENCE_START = 20 * CHUNK
END = SILENCE_START + PAD_AFTER  # where the endpointer would end the segment
READY = chunk_end(END)  # the VAD has told that the silence lasts pad_after once this chunk is known


def test_a_final_is_prepared_once_the_vad_has_told_the_silence_lasts_pad_after():
    speech = [SPEECH] * 20
    silence_chunks = (READY - SILENCE_START) // CHUNK
    prepared = follower(speech + [SILENCE] * (silence_chunks - 1))
    assert prepared.speech.silences == [[SILENCE_START, None]]
    assert prepared.due(next_point=10 * CHUNK, reach=READY, segment_start=0, audio_end=READY) is None  # before it
    assert prepared.due(SILENCE_START, READY, 0, READY) is WAIT  # the last chunk not yet known
    prepared.accept([READY - CHUNK], [SILENCE])
    assert prepared.due(SILENCE_START, READY, 0, audio_end=END - 1) is WAIT  # its audio not yet there
    assert prepared.due(SILENCE_START, READY, 0, audio_end=END) == ([SILENCE_START, None], END)
    # A decode point past the reach: on silence it is prepared all the same; else it waits for the point.
    assert prepared.due(READY + CHUNK, READY, 0, END) == ([SILENCE_START, None], END)
    at_points = follower(speech + [SILENCE] * silence_chunks, on_silence=False)
    assert at_points.due(READY + CHUNK, READY, 0, END) is None
    # A silence that began before the segment is not its end.
    assert prepared.due(SILENCE_START, READY, segment_start=SILENCE_START, audio_end=END) is None


def test_speech_that_resumes_within_pad_after_is_not_an_end():
    prepared = follower([SPEECH] * 20 + [SILENCE, SPEECH] + [SILENCE] * 10)
    assert prepared.due(SILENCE_START, 40 * CHUNK, 0, 40 * CHUNK) is None  # a decode point as any other
    assert prepared.silence_seen == SILENCE_START  # passed over for good
    assert prepared.due(22 * CHUNK, 40 * CHUNK, 0, 40 * CHUNK) == ([22 * CHUNK, None], 22 * CHUNK + PAD_AFTER)


def kept(prepared: PreparedFinals, committed_text: str = " the pencils") -> PreparedFinal:
    keep = PreparedFinal([SILENCE_START, None], END, (0, [5, 6]), transcript(committed_text + " have all"))
    prepared.prepared = keep
    return keep


def test_decode_points_in_its_silence_are_passed_over_until_speech_resumes():
    prepared = follower([SPEECH] * 20 + [SILENCE] * 10)
    keep = kept(prepared)
    assert prepared.silent_at(READY) and prepared.stats.silent_partials == 1
    keep.silence[1] = 30 * CHUNK  # speech resumed there (the follower's own list is shared the same way)
    assert prepared.silent_at(30 * CHUNK)  # its first chunk is not heard yet at this point
    assert not prepared.silent_at(31 * CHUNK)
    assert prepared.prepared is None and prepared.stats.prepared_unused == 1


def test_the_end_takes_the_final_prepared_for_it_and_nothing_else():
    tokens = transcript(" the pencils").tokens
    same = lambda snapshot: snapshot == (0, [5, 6])  # noqa: E731
    for end, forced, committed, context_same, taken in (
            (END, False, tokens, same, True),
            (END + CHUNK, False, tokens, same, False),  # another end
            (END, True, tokens, same, False),  # a forced end (split, stream end)
            (END, False, transcript(" the pencil sharpener").tokens, same, False),  # committed since
            (END, False, tokens, lambda snapshot: False, False)):  # the context changed since
        prepared = follower([SPEECH] * 20 + [SILENCE] * 10)
        keep = kept(prepared)
        assert (prepared.take(end, forced, committed, context_same) is keep) == taken
        assert (prepared.stats.prepared_finals, prepared.stats.prepared_unused) == (int(taken), int(not taken))
        assert prepared.prepared is None


def test_a_new_segment_drops_a_prepared_final_and_older_silences():
    prepared = follower([SPEECH] * 20 + [SILENCE] * 10 + [SPEECH] * 5)
    kept(prepared)
    prepared.open(start=35 * CHUNK)
    assert prepared.prepared is None and prepared.stats.prepared_unused == 1
    assert prepared.speech.silences == []  # it resumed (at 30 chunks) before the new segment


def test_reach_waits_for_the_probabilities():
    unfollowed = PreparedFinals(True, StreamingStats())
    assert unfollowed.reach(audio_end=12345) == 12345 and unfollowed.due(0, 12345, 0, 12345) is None
    prepared = follower([SPEECH] * 10)
    assert prepared.reach(audio_end=100 * CHUNK) == 11 * CHUNK - 1
    assert prepared.reach(audio_end=5 * CHUNK) == 5 * CHUNK


def test_the_open_trailing_silence_is_the_last_unbroken_one_of_the_segment():
    prepared = follower([SPEECH] * 20 + [SILENCE] * 2)
    assert prepared.open_silence(segment_start=0) == (SILENCE_START, READY)
    assert prepared.open_silence(segment_start=SILENCE_START) is None  # began before the segment
    prepared.accept([22 * CHUNK], [SPEECH])  # speech resumed
    assert prepared.open_silence(segment_start=0) is None
    kept(prepared)
    prepared.accept([23 * CHUNK], [SILENCE])
    assert prepared.open_silence(segment_start=0) is None  # a final is prepared already
    prepared.prepared = None
    assert prepared.open_silence(segment_start=0) == (23 * CHUNK, chunk_end(23 * CHUNK + PAD_AFTER))
    assert PreparedFinals(True, StreamingStats()).open_silence(0) is None  # not following the VAD
