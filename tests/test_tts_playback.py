"""Playback through the ring buffer: the callback, resampling, underrun counting, WAV output.

This machine has no audio device, so :class:`ClockedPlayback` drives PlaybackSink's own callback from
a thread at the device's pace in place of PortAudio's clock; everything else (ring, soxr resampling,
underrun accounting, the callback itself) is the real code. The real device path (PulseAudio null
sink, monitor correlated with the waveform) is tested with the PulseAudio fixture.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf
import soxr
from tts_helpers import SENTENCES, SHORT, deterministic, voice

from rtvoice import RingBuffer
from rtvoice.errors import DeviceError
from rtvoice.tts import PlaybackSink, SynthesisOptions, TtsEngine, WavSink, synthesize


class _Clock:
    """Calls the sink's callback every ``blocksize / rate`` seconds (times ``speedup``), like PortAudio.

    ``patience_s`` > 0 makes a device that waits (up to that long) for a full block before each callback:
    tests of what is played use it, so a loaded machine's slow synthesis cannot starve it (starvation and
    its counting are tested separately, with a clock that does not wait)."""

    def __init__(self, sink: PlaybackSink, blocksize: int, speedup: float, patience_s: float = 0.0) -> None:
        self.sink, self.blocksize, self.period = sink, blocksize, blocksize / sink.rate / speedup
        self.patience_s = patience_s
        self.played: list[np.ndarray] = []
        self.latency = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        out = np.zeros((self.blocksize, 1), np.float32)
        due = time.perf_counter()
        while not self._stop.is_set():
            waited_until = time.perf_counter() + self.patience_s
            while self.sink.ring.available < self.blocksize and time.perf_counter() < waited_until:
                if self._stop.wait(0.005):
                    return
            if self.patience_s:
                due = max(due, time.perf_counter())
            self.sink._callback(out, self.blocksize, None, 0)
            self.played.append(out[:, 0].copy())
            due += self.period
            self._stop.wait(max(0.0, due - time.perf_counter()))

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def close(self):
        pass


class ClockedPlayback(PlaybackSink):
    def __init__(self, rate=48000, blocksize=480, speedup=1.0, patience_s=0.0, **kw):
        super().__init__(sample_rate=rate, **kw)
        self.blocksize_, self.speedup, self.patience_s = blocksize, speedup, patience_s

    def _device(self):
        return None, self.requested_rate, "clock"

    def _open_stream(self, index):
        clock = _Clock(self, self.blocksize_, self.speedup, self.patience_s)
        clock.start()
        self.clock = clock
        return clock

    def played(self) -> np.ndarray:
        return np.concatenate(self.clock.played)


def test_callback_copies_what_is_there_and_zero_fills_the_rest():
    sink = PlaybackSink()
    sink.ring = RingBuffer(1024)
    sink.ring.write(np.arange(1, 101, dtype=np.float32))
    out = np.full((256, 1), 7.0, np.float32)
    sink._callback(out, 256, None, 0)
    np.testing.assert_array_equal(out[:100, 0], np.arange(1, 101))
    assert not out[100:].any()
    assert sink.ring.underflow_reads == 1


def test_played_audio_is_the_resampled_voice():
    sink = ClockedPlayback(rate=48000, patience_s=1.0)
    engine = TtsEngine(voice(), deterministic(), [sink])
    utt = engine.speak(SHORT)
    assert engine.drain(30)
    played = sink.played()
    engine.close()
    expected = soxr.resample(synthesize(voice(), SHORT, deterministic()), 22050, 48000, quality="HQ")
    start = int(np.argmax(np.abs(played) > 1e-6))
    lead = int(np.argmax(np.abs(expected) > 1e-6))
    got = played[start - lead:start - lead + len(expected)]
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, atol=2e-3)
    assert utt.underruns == 0 and engine.stats()["underruns"] == 0


def test_starved_playback_counts_underruns():
    """A device consuming 40x faster than real time outruns synthesis: the gaps are counted."""
    sink = ClockedPlayback(rate=48000, speedup=40.0)
    engine = TtsEngine(voice(), SynthesisOptions(), [sink])
    utt = engine.speak(SENTENCES[1])
    assert engine.drain(60)
    engine.close()
    assert utt.underruns > 0
    assert engine.stats()["underruns"] == utt.underruns


# A real-time promise on a shared 2-core machine: another process taking both cores starves synthesis
# (measured: 3 and 14 underruns with two busy loops beside it). Reruns keep the promise strict per attempt.
@pytest.mark.flaky(reruns=2)
def test_real_time_playback_has_no_underruns_and_first_audio_early():
    sink = ClockedPlayback(rate=44100, speedup=1.0)
    with TtsEngine(voice(), SynthesisOptions(), [sink]) as engine:
        utts = [engine.speak(t) for t in (SHORT, SENTENCES[3])]
    assert sum(u.underruns for u in utts) == 0
    assert utts[0].first_audio_s < 1.0  # generous: the bench measures it; here the ring must get it early


def test_stalled_device_is_an_error_not_a_hang():
    sink = ClockedPlayback(rate=48000, speedup=0.0001, ring_seconds=0.1, stall_timeout_s=0.5)
    engine = TtsEngine(voice(), SynthesisOptions(), [sink])
    engine.speak(SENTENCES[1])
    with pytest.raises(DeviceError, match="stopped taking audio"):
        engine.wait_idle(60)
    engine.close(drain=False)


def test_wav_file_holds_the_voice(tmp_path):
    path = tmp_path / "out.wav"
    with TtsEngine(voice(), deterministic(), [WavSink(path)]) as engine:
        engine.speak(SENTENCES[0])
        engine.speak("")
        engine.speak(SENTENCES[3])
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (22050, 1, "PCM_16", "WAV")
    audio, _ = sf.read(str(path), dtype="float32")
    expected = np.concatenate([synthesize(voice(), t, deterministic()) for t in (SENTENCES[0], SENTENCES[3])])
    assert len(audio) == len(expected)
    np.testing.assert_allclose(audio, expected, atol=2 / 32768)


def test_unwritable_wav_is_a_clear_error(tmp_path):
    from rtvoice.errors import AudioFormatError

    engine = TtsEngine(voice(), sinks=[WavSink(tmp_path / "missing-dir" / "x.wav")])
    with pytest.raises(AudioFormatError, match="x.wav"):
        engine.start()
    engine.close()


def test_dubbed_track_places_lines_at_their_source_start(tmp_path):
    from rtvoice.tts import TimelineSink

    path = tmp_path / "dub.wav"
    track = TimelineSink(path)
    texts = [(SENTENCES[0], 0.5), (SHORT, 1.0), (SENTENCES[3], 9.0)]  # the second overlaps the first
    with TtsEngine(voice(), deterministic(), [track]) as engine:
        for text, start in texts:
            engine.speak(text, tag=start)
    audio, rate = sf.read(str(path), dtype="float32")
    parts = [synthesize(voice(), t, deterministic()) for t, _ in texts]
    placed = [p["placed_s"] for p in track.placements]
    assert placed[0] == 0.5 and placed[2] == 9.0
    assert placed[1] == pytest.approx(0.5 + len(parts[0]) / rate, abs=1 / rate)  # after the first, not over it
    assert track.placements[1]["delay_s"] == pytest.approx(placed[1] - 1.0)
    for part, at in zip(parts, placed):
        start = int(round(at * rate))
        np.testing.assert_allclose(audio[start:start + len(part)], part, atol=2 / 32768)
    assert not audio[:int(0.5 * rate)].any()
    assert len(audio) == int(9.0 * rate) + len(parts[2])
    assert engine.stats()["dub_delay_s"]["n"] == 3


def test_cancel_silences_the_speaker_at_once():
    sink = ClockedPlayback(rate=48000)
    engine = TtsEngine(voice(), SynthesisOptions(), [sink])
    utt = engine.speak(" ".join(SENTENCES))
    deadline = time.monotonic() + 30
    while sink.ring is None or sink.ring.available < 48000:  # a second of voice queued in the ring
        assert time.monotonic() < deadline
        time.sleep(0.01)
    at_cancel = len(sink.played())
    engine.cancel()
    assert utt.wait(10) and utt.cancelled
    deadline = time.monotonic() + 5
    while sink.ring.available:  # emptied by the callback's discard, not by playing it
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.05)  # the callback that emptied the ring has handed its block over
    heard = len(sink.played())
    assert np.count_nonzero(sink.played()[at_cancel:heard]) < 24000  # not the queued second played out
    time.sleep(0.3)
    tail = sink.played()[heard:]
    engine.close()
    assert len(tail) > 0 and not tail.any()  # silence after the cancel, not the queued second of voice


def test_first_audio_of_a_queued_line_does_not_count_the_speech_before_it():
    """Lines submitted together: the second line's latency is measured from when the voice got to it
    and excludes waiting for the ring (full of the first line); end-to-end latency includes both."""
    sink = ClockedPlayback(rate=48000, ring_seconds=0.5)
    with TtsEngine(voice(), SynthesisOptions(), [sink]) as engine:
        engine.speak(SENTENCES[1])
        second = engine.speak(SHORT)
    assert second.end_to_end_first_audio_s > 2.0  # waited for most of the first line to play
    assert second.first_audio_s < 1.5
    assert sink.wait_s > 2.0  # the worker waited for room while the first line played
    s = engine.stats()
    assert s["tts_end_to_end_first_audio_s"]["p95"] > s["tts_first_audio_s"]["p95"]
