"""The clocks a caption run is timed on (rtvoice.metrics.clock): the virtual clock counts the consumer's compute,
the compute-free one only the audio's arrival, so its latencies are the streaming policy's own on any machine."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from asr_support import whisper

from rtvoice.audio.sources import FileSource
from rtvoice.metrics.clock import CLOCKS, VirtualClock
from rtvoice.pipeline.engine import CaptionPipeline, PipelineConfig

SR = 16000
SLOWDOWN_S = 0.15  # added to every decode: a CPU several times slower than this one


def test_virtual_clock_counts_compute_and_compute_free_does_not():
    counting, free = VirtualClock(), VirtualClock(count_compute=False)
    for clock in (counting, free):
        clock.reset()
        clock.arrive(0.5)
    time.sleep(0.05)  # the consumer computing
    assert counting() >= 0.55 - 1e-9
    assert free() == 0.5
    free.arrive(0.2)  # audio already there: taking it costs nothing
    assert free() == 0.5
    free.arrive(1.25)
    assert free() == 1.25


def test_pipeline_rejects_an_unknown_clock():
    assert CLOCKS == ("real", "virtual", "compute-free")
    with pytest.raises(ValueError, match="clock must be one of real, virtual, compute-free"):
        PipelineConfig(clock="wall")


class _SlowRecognizer:
    """The packaged recognizer, each decode made SLOWDOWN_S slower (a slow CPU cannot be had here)."""

    def __init__(self, recognizer):
        self._recognizer = recognizer

    def __getattr__(self, name):
        return getattr(self._recognizer, name)

    def transcribe(self, *args, **kwargs):
        time.sleep(SLOWDOWN_S)
        return self._recognizer.transcribe(*args, **kwargs)


@pytest.fixture(scope="module")
def two_utterances(speech_recordings, tmp_path_factory):
    pause = np.zeros(SR, np.float32)
    audio = np.concatenate([pause, speech_recordings[5].load(), pause, speech_recordings[6].load(), pause])
    path = tmp_path_factory.mktemp("clock") / "two.wav"
    sf.write(path, audio, SR)
    return path


def _latencies(path, recognizer, clock, read_delay_s: float = 0.0):
    pipeline = CaptionPipeline(FileSource(path), recognizer, [], config=PipelineConfig(clock=clock))
    if read_delay_s:
        read_audio = pipeline.frontend.read_audio

        def preempted_read_audio():
            time.sleep(read_delay_s)  # the caption loop descheduled between reading events and audio
            return read_audio()

        pipeline.frontend.read_audio = preempted_read_audio
    pipeline.run()
    return pipeline.latency.word_committed, pipeline.latency.final_after_speech_end


def test_compute_free_latencies_do_not_depend_on_the_machines_speed(two_utterances):
    recognizer = whisper()
    fast = _latencies(two_utterances, recognizer, "compute-free")
    slow = _latencies(two_utterances, _SlowRecognizer(recognizer), "compute-free")
    assert fast[0] and fast[1], "nothing committed or finished"
    assert slow == fast
    # The virtual clock counts the slow decodes: each word is committed by a decode that took SLOWDOWN_S longer.
    virtual_fast = _latencies(two_utterances, recognizer, "virtual")
    virtual_slow = _latencies(two_utterances, _SlowRecognizer(recognizer), "virtual")
    assert np.median(virtual_slow[0]) >= np.median(virtual_fast[0]) + SLOWDOWN_S
    assert np.median(virtual_fast[0]) > np.median(fast[0])


def test_compute_free_latencies_do_not_depend_on_the_front_ends_thread_timing(two_utterances):
    """The front end's thread queues a chunk's audio before its events; a caption loop descheduled between
    its reads (here for 5 ms, as on a loaded 2-core machine) would read audio well past an end of speech it
    has not heard of yet, and feed it (rtvoice.pipeline.in_order). Before the audio was released in stream
    order this changed the finals' latencies by up to 1.9 s. Every latency is compared."""
    recognizer = whisper()
    steady = _latencies(two_utterances, recognizer, "compute-free")
    assert _latencies(two_utterances, recognizer, "compute-free", read_delay_s=0.005) == steady
