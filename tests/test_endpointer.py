"""Endpointer: exact rules on hand-made probability sequences, then real recordings joined with known
silences (boundaries found independently: we build the signal, so we know where each utterance is)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rtvoice import _core
from rtvoice.frontend.vad import (
    Endpointer,
    EndpointerConfig,
    Segment,
    SegmentEvent,
    SileroVad,
    endpoint_probabilities,
    segments_from_events,
    speech_segments,
)

from speech_data import load_speech, shared_data_dir, utterance_ids

CHUNK = 512
RATE = 16000


def run(probs, config=None, last_chunk=CHUNK):
    """[(chunk index at which the event was emitted, event)], with finish() events at index len(probs)."""
    ep = Endpointer(config)
    out = []
    for i, p in enumerate(probs):
        n = last_chunk if i == len(probs) - 1 else CHUNK
        out += [(i, e) for e in ep.accept(p, n)]
    out += [(len(probs), e) for e in ep.finish()]
    return out


# --- rules on synthetic probabilities ---------------------------------------------------------------
def test_onset_min_speech_hysteresis_trailing_silence_and_padding():
    probs = [0.0] * 5 + [0.9] * 12 + [0.4] * 3 + [0.1] * 12 + [0.0] * 3
    events = run(probs)
    # onset at chunk 5 (sample 2560); confirmed once 250 ms (4000 samples) have passed: chunk 12 ends at 6656
    # start = onset - 100 ms pad = 2560 - 1600
    # chunks of 0.4 are between the thresholds: speech goes on; silence starts at chunk 20 (sample 10240)
    # and ends the segment once 300 ms (4800 samples) passed: chunk 29 ends at 15360 >= 15040
    assert events == [
        (12, SegmentEvent("speech_start", 960, False)),
        (29, SegmentEvent("speech_end", 10240 + 1600, False)),
    ]


def test_only_a_chunk_above_threshold_cancels_a_pending_silence():
    probs = [0.9] * 10 + [0.1] + [0.45] * 8 + [0.2] * 5
    # silence pending from chunk 10 (sample 5120); the 0.45s do not cancel it; 4800 samples later it ends
    events = run(probs)
    assert events[-1] == (19, SegmentEvent("speech_end", 5120 + 1600, False))
    probs = [0.9] * 10 + [0.1] * 5 + [0.6] + [0.1] * 20
    events = run(probs)
    # the 0.6 at chunk 15 cancels the first silence: the second one starts at chunk 16
    assert events[-1][1] == SegmentEvent("speech_end", 16 * 512 + 1600, False)


def test_short_bursts_produce_no_events():
    probs = [0.0] * 3 + [0.95] * 7 + [0.0] * 20 + [0.95] * 7 + [0.0] * 3  # 7 chunks = 224 ms < 250 ms
    assert run(probs) == []
    # 8 chunks = 256 ms is enough, even when the stream ends right after
    assert [e.kind for _, e in run([0.95] * 8)] == ["speech_start", "speech_end"]


def test_pause_shorter_than_min_silence_keeps_one_segment():
    for pause, segments in ((9, 1), (10, 2)):  # 9 chunks = 288 ms < 300 ms; 10 chunks = 320 ms
        probs = [0.9] * 20 + [0.05] * pause + [0.9] * 20 + [0.0] * 15
        assert len(segments_from_events([e for _, e in run(probs)])) == segments


def test_start_pad_never_reaches_before_the_stream_or_the_previous_end():
    events = [e for _, e in run([0.9] * 20 + [0.0] * 12)]
    assert events[0] == SegmentEvent("speech_start", 0, False)  # onset at 0, pad clipped
    config = EndpointerConfig(pad_before_ms=400.0, pad_after_ms=300.0)
    probs = [0.9] * 20 + [0.0] * 10 + [0.9] * 20 + [0.0] * 12
    segs = segments_from_events([e for _, e in run(probs, config)])
    assert len(segs) == 2
    assert segs[0].end == 20 * 512 + 4800  # silence start + 300 ms
    assert segs[1].start == segs[0].end  # 400 ms before the onset would overlap: clipped to the end


def test_finish_closes_an_open_segment_at_the_exact_stream_end():
    events = run([0.0] * 4 + [0.9] * 20, last_chunk=100)
    assert events[-1] == (24, SegmentEvent("speech_end", 23 * 512 + 100, False))
    # a pending (not yet long enough) silence at the end: end = silence start + pad
    events = run([0.9] * 20 + [0.0] * 4)
    assert events[-1][1] == SegmentEvent("speech_end", 20 * 512 + 1600, False)


def test_max_segment_splits_at_the_longest_pause_or_at_the_limit():
    config = EndpointerConfig(max_segment_s=3.0)  # 48000 samples
    # continuous speech: split every time the next chunk would pass 3 s
    probs = [0.9] * 300 + [0.0] * 12
    events = [e for _, e in run(probs, config)]
    segs = segments_from_events(events)
    assert all(s.end - s.start <= 48000 for s in segs)
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))  # no audio lost between forced pieces
    assert [s.forced_end for s in segs] == [True] * (len(segs) - 1) + [False]
    assert sum(e.forced for e in events) == 2 * (len(segs) - 1)
    assert segs[0].start == 0 and segs[-1].end == 300 * 512 + 1600
    # with a short pause (5 chunks < min_silence) inside: split in its middle
    probs = [0.9] * 40 + [0.05] * 5 + [0.9] * 200 + [0.0] * 12
    segs = segments_from_events([e for _, e in run(probs, config)])
    assert segs[0] == Segment(0, 40 * 512 + (5 * 512) // 2, True)


def test_bad_settings_and_probabilities_are_value_errors():
    with pytest.raises(ValueError, match="neg_threshold"):
        EndpointerConfig(threshold=0.5, neg_threshold=0.6)
    with pytest.raises(ValueError, match="pad_after_ms"):
        EndpointerConfig(min_silence_ms=200, pad_after_ms=300)
    with pytest.raises(ValueError, match="max_segment_s"):
        EndpointerConfig(max_segment_s=0.5)
    with pytest.raises(ValueError, match="threshold"):
        EndpointerConfig(threshold=float("nan"))
    with pytest.raises(ValueError, match="must be a number"):
        EndpointerConfig(min_speech_ms="250")
    ep = Endpointer()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ep.accept(1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ep.accept(float("nan"))
    with pytest.raises(ValueError, match="num_samples"):
        ep.accept(0.5, 513)
    assert ep.position == 0
    assert "threshold=0.5" in repr(_core.EndpointerConfig())


# --- real recordings -------------------------------------------------------------------------------
BOUNDARY_TOLERANCE_S = 0.3


def joined(ids, silences_s, noise=None, snr_db=None):
    """Utterances separated by digital silence (silences_s has one more entry than ids: leading and
    trailing silence included), optionally with a real noise recording added throughout at snr_db."""
    parts = [np.zeros(int(silences_s[0] * RATE), np.float32)]
    bounds, pos = [], len(parts[0])
    for uid, gap in zip(ids, silences_s[1:]):
        x = load_speech(uid)
        bounds.append((pos, pos + len(x)))
        parts += [x, np.zeros(int(gap * RATE), np.float32)]
        pos += len(x) + int(gap * RATE)
    signal = np.concatenate(parts)
    if noise is not None:
        n, rate = sf.read(shared_data_dir() / "noise" / "wav" / f"{noise}.wav", dtype="float32", always_2d=True)
        assert rate == RATE
        n = np.resize(n[:, 0], len(signal))
        speech_power = np.mean(np.concatenate([load_speech(u) for u in ids]) ** 2)
        signal = signal + n * np.sqrt(speech_power / np.mean(n ** 2) / 10 ** (snr_db / 10))
    return signal.astype(np.float32), bounds


def assert_aligned(segments, bounds, tolerance_s=BOUNDARY_TOLERANCE_S):
    assert len(segments) == len(bounds), [(s.start / RATE, s.end / RATE) for s in segments]
    for seg, (start, end) in zip(segments, bounds):
        assert abs(seg.start - start) <= tolerance_s * RATE, (seg, start, end)
        assert abs(seg.end - end) <= tolerance_s * RATE, (seg, start, end)
        assert not seg.forced_end


IDS = ["spk1_snt1", "sense_and_sensibility_01_austen_64kb-0880", "spk1_snt3",
       "sense_and_sensibility_01_austen_64kb-0930", "spk1_snt6"]
SILENCES = [1.0, 0.5, 2.0, 0.8, 3.0, 1.0]


@pytest.mark.parametrize("noise,snr_db", [(None, None), ("noise1", 20.0), ("cafe", 20.0)])
def test_joined_recordings_give_one_segment_per_utterance(noise, snr_db):
    signal, bounds = joined(IDS, SILENCES, noise, snr_db)
    assert_aligned(speech_segments(signal), bounds)


def test_dev_long_has_its_eleven_utterances():
    audio = load_speech("dev_long")
    # where each utterance sits in dev_long.wav: found by exact sample match, in manifest order
    bounds, pos = [], 0
    for uid in utterance_ids():
        x = load_speech(uid)
        window = np.lib.stride_tricks.sliding_window_view(audio[pos:pos + 2 * RATE + len(x)], 64)
        offset = pos + int(np.flatnonzero(np.all(window == x[:64], axis=1))[0])
        assert np.array_equal(audio[offset:offset + len(x)], x)
        bounds.append((offset, offset + len(x)))
        pos = offset + len(x)
    assert len(bounds) == 11
    assert_aligned(speech_segments(audio), bounds)


def test_utterances_closer_than_min_silence_merge():
    # back to back (only the recordings' own short edges between them): one segment
    signal, bounds = joined(IDS[:2], [0.5, 0.0, 0.5])
    segs = speech_segments(signal)
    assert len(segs) == 1
    assert abs(segs[0].start - bounds[0][0]) <= BOUNDARY_TOLERANCE_S * RATE
    assert abs(segs[0].end - bounds[1][1]) <= BOUNDARY_TOLERANCE_S * RATE
    # the same pair 1 s apart: two segments
    signal, bounds = joined(IDS[:2], [0.5, 1.0, 0.5])
    assert_aligned(speech_segments(signal), bounds)


def test_forced_splits_on_real_speech_respect_the_limit_and_prefer_pauses():
    audio = load_speech("dev_long")
    probs = SileroVad().process(audio)
    config = EndpointerConfig(max_segment_s=2.0)
    events = endpoint_probabilities(probs, len(audio), config)
    segs = segments_from_events(events)
    assert all(s.end - s.start <= 2.0 * RATE for s in segs)
    forced = [s for s in segs if s.forced_end]
    assert len(forced) >= 10  # the longer utterances (5-7 s) must be cut
    # a split inside a pause lands where the VAD said "not speech"
    in_pause = [s.end for s in forced if probs[min(s.end // CHUNK, len(probs) - 1)] < 0.5]
    assert len(in_pause) >= len(forced) // 3  # 10 of 20 here; splitting at the limit alone gives ~0
    # without a limit the same audio gives the 11 natural segments, none forced
    assert not any(s.forced_end for s in segments_from_events(endpoint_probabilities(probs, len(audio))))
