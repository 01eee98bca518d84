"""Releasing the front end's output in stream order (rtvoice.pipeline.in_order): audio only as far as every event
that could fall in it is known, events with the audio before them, a chunk's probability with its first block."""

from __future__ import annotations

import numpy as np

from rtvoice.frontend.vad import EndpointerConfig, SegmentEvent
from rtvoice.pipeline.in_order import InOrderRelease, report_delay

CHUNK = 512
BLOCK = 160
DELAY = 4 * CHUNK  # samples; small, so that the arithmetic below stays readable


def _audio(start: int, n: int) -> tuple[int, np.ndarray]:
    return start, np.arange(start, start + n, dtype=np.float32)


def _chunks(upto: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(0, upto, CHUNK, dtype=np.int64)
    return starts, np.linspace(0, 1, len(starts), dtype=np.float32)


def test_report_delay_covers_the_endpointers_longest_wait():
    config = EndpointerConfig()
    wait_ms = config.pad_before_ms + config.min_speech_ms + config.min_silence_ms
    assert report_delay(config) == round(wait_ms * 16) + 2 * config.chunk_samples


def test_audio_is_released_only_as_far_as_the_events_are_known():
    release = InOrderRelease(DELAY, BLOCK)
    release.add([], *_audio(0, 20 * CHUNK), *_chunks(10 * CHUNK))
    (events, start, audio), = release.take()
    upto = (9 * CHUNK - DELAY) // BLOCK * BLOCK  # newest probability: chunk 9; a whole number of blocks
    assert (start, len(audio), events) == (0, upto, [])
    assert audio[-1] == upto - 1
    assert release.take() == []  # nothing new known


def test_an_event_goes_with_the_audio_before_it_and_a_later_one_waits():
    release = InOrderRelease(DELAY, BLOCK)
    early, late = SegmentEvent("speech_start", 800), SegmentEvent("speech_end", 6000)
    release.add([early, late], *_audio(0, 20 * CHUNK), *_chunks(12 * CHUNK))
    (events, start, audio), = release.take()
    assert events == [early] and start == 0 and 800 <= len(audio) < 6000
    release.add([], 0, np.zeros(0, np.float32), *[a[12:] for a in _chunks(20 * CHUNK)])
    (events, start, audio), = release.take()
    assert events == [late] and start + len(audio) >= 6000


def test_once_the_front_end_is_done_everything_goes_even_an_event_after_the_last_audio():
    release = InOrderRelease(DELAY, BLOCK)
    end = SegmentEvent("speech_end", 3 * CHUNK, forced=True)
    release.add([end], *_audio(0, 3 * CHUNK), *_chunks(3 * CHUNK))
    groups = release.take(everything=True)
    assert [len(audio) for _, _, audio in groups] == [3 * CHUNK]
    assert groups[0][0] == [end]


def test_a_gap_the_front_end_dropped_starts_a_new_group():
    release = InOrderRelease(DELAY, BLOCK)
    release.add([], *_audio(0, CHUNK), *_chunks(CHUNK))
    release.add([], *_audio(5 * CHUNK, CHUNK), *[a[5:] for a in _chunks(6 * CHUNK)])
    groups = release.take(everything=True)
    assert [(start, len(audio)) for _, start, audio in groups] == [(0, CHUNK), (5 * CHUNK, CHUNK)]


def test_an_event_known_after_its_audio_was_released_goes_at_once():
    """A forced split at the middle of an old pause: the one event that can come late."""
    release = InOrderRelease(DELAY, BLOCK)
    release.add([], *_audio(0, 20 * CHUNK), *_chunks(20 * CHUNK))
    released = sum(len(audio) for _, _, audio in release.take())
    split = SegmentEvent("speech_end", released // 2, forced=True)
    release.add([split], 0, np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))
    (events, _, audio), = release.take()
    assert events == [split] and len(audio) == 0


def test_a_chunks_probability_comes_with_the_block_that_reaches_into_it():
    release = InOrderRelease(DELAY, BLOCK)
    release.add([], *_audio(0, 4 * CHUNK), *_chunks(4 * CHUNK))
    starts, _ = release.probabilities_before(BLOCK)  # block [0, 160): chunk 0 only
    assert starts.tolist() == [0]
    starts, _ = release.probabilities_before(4 * BLOCK)  # block [480, 640) reaches into chunk 1
    assert starts.tolist() == [CHUNK]
    assert release.probabilities_before(4 * BLOCK)[0].tolist() == []  # each given once
