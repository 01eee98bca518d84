"""Long run: the whole chain (front end, streaming ASR, voice) over and over on real speech with the
virtual clock. Resident memory stops growing after warm-up; no thread or file descriptor is left behind.

Opt-in (`make soak`, RTVOICE_SOAK_PASSES=68 is the full hour): measured on 2026-11-25 the promise does NOT
hold yet. Resident memory after each pass of dev_long (53 s) was 543, 551, 552, 561, 561, 567 MB (glibc's
default arenas) and 507, 512, 513, 522, 525, 525 MB with MALLOC_ARENA_MAX=2; threads and file descriptors
stayed flat. Whether the steps are allocator growth that levels off or a slow leak is still to find out.
"""

from __future__ import annotations

import os
import threading

import pytest

from rtvoice.asr import WhisperConfig, WhisperRecognizer
from rtvoice.dubbing import DubStage
from rtvoice.engine import CaptionPipeline, PipelineConfig
from rtvoice.sources import FileSource
from rtvoice.tts import CallbackSink, SynthesisOptions, TtsEngine, load_voice


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.skipif("RTVOICE_SOAK_PASSES" not in os.environ,
                    reason="long run is opt-in: make soak (memory growth still over budget, see the docstring)")
def test_memory_threads_and_fds_stay_flat_over_a_long_run(dev_long):
    passes = int(os.environ["RTVOICE_SOAK_PASSES"])
    recognizer = WhisperRecognizer(WhisperConfig(device="cpu"))
    voice = load_voice(None)
    finals = 0

    def one_pass():
        nonlocal finals
        source = FileSource(dev_long.path)
        stage = DubStage(TtsEngine(voice, SynthesisOptions(), [CallbackSink(lambda u, s, o: None)]))
        pipeline = CaptionPipeline(source, recognizer, stage.attach(source), config=PipelineConfig(clock="virtual"))
        stats = pipeline.run()
        stage.finish(interrupted=False)
        assert stats["source"]["dropped"] == 0 and stats["frontend"]["audio_dropped_samples"] == 0
        finals += stats["asr"]["finals"]
        return stage.stats()["dub_lines"]

    assert one_pass() == 11  # warm-up: models, arenas and caches reach their size
    baseline_rss, baseline_threads, baseline_fds = rss_mb(), threading.active_count(), open_fds()
    for _ in range(passes - 1):
        assert one_pass() == 11
    growth = rss_mb() - baseline_rss
    assert growth <= 10.0, f"resident memory grew {growth:.1f} MB over {passes - 1} passes after warm-up"
    assert threading.active_count() == baseline_threads
    assert open_fds() == baseline_fds
    assert finals == 11 * passes
