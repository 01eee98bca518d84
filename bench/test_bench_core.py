"""Native core: ring buffer transfer between threads, Kaldi fbank, Whisper log-mel."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path

import kaldi_native_fbank as knf
import librosa
import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from rtvoice import RingBuffer
from rtvoice import features as F
from bench.timing import median_s

BLOCK = 256
TRANSFER_FRAMES = 2_000_000


def _speech(dev_long, seconds: float) -> np.ndarray:
    audio = dev_long.load()
    reps = int(np.ceil(seconds * 16000 / len(audio)))
    return np.tile(audio, reps)[: int(seconds * 16000)].astype(np.float32)


def _transfer_ring_buffer(blocks: list[np.ndarray]) -> None:
    rb = RingBuffer(1 << 14)

    def produce():
        for b in blocks:
            while rb.write(b) == 0:
                time.sleep(0)  # let the consumer run: a spinning thread holds the GIL

    t = threading.Thread(target=produce)
    t.start()
    out = np.empty(BLOCK * 16, np.float32)
    remaining = len(blocks) * BLOCK
    while remaining:
        n = rb.read_into(out[: min(len(out), remaining)])
        remaining -= n
        if n == 0:
            time.sleep(0)
    t.join()


def _transfer_queue(blocks: list[np.ndarray]) -> None:
    q: queue.SimpleQueue = queue.SimpleQueue()

    def produce():
        for b in blocks:
            q.put(b.copy())  # a queue hands over ownership: the producer's buffer is reused

    t = threading.Thread(target=produce)
    t.start()
    out = np.empty(BLOCK, np.float32)
    for _ in range(len(blocks)):
        out[:] = q.get()
    t.join()


NATIVE_BENCH = Path(__file__).resolve().parents[1] / "build" / "dev" / "bench_ring_buffer"
NATIVE_FRAMES = 50_000_000


@pytest.mark.benchmark(group="ring buffer (C++ threads): 50M frames, 256-frame blocks")
@pytest.mark.parametrize("impl", ["rtvoice", "peer:mutex-ring"])
def test_ring_buffer_native_two_threads(benchmark, mark, impl):
    args = [str(NATIVE_BENCH), "rtvoice" if impl == "rtvoice" else "mutex", str(NATIVE_FRAMES)]
    benchmark.pedantic(subprocess.run, args=(args,), kwargs=dict(check=True, capture_output=True),
                       rounds=5, iterations=1, warmup_rounds=1)
    mark(impl, gb_per_s=NATIVE_FRAMES * 4 / median_s(benchmark) / 1e9)


@pytest.mark.benchmark(group="ring buffer (Python threads): 2M frames, 256-frame blocks")
@pytest.mark.parametrize("impl", ["rtvoice", "peer:queue.SimpleQueue"])
def test_ring_buffer_two_threads(benchmark, mark, impl):
    blocks = [np.full(BLOCK, i, np.float32) for i in range(TRANSFER_FRAMES // BLOCK)]
    fn = _transfer_ring_buffer if impl == "rtvoice" else _transfer_queue
    benchmark.pedantic(fn, args=(blocks,), rounds=5, iterations=1, warmup_rounds=1)
    mark(impl, gb_per_s=TRANSFER_FRAMES * 4 / median_s(benchmark) / 1e9)


def _knf_fbank(samples: np.ndarray) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, samples)
    fbank.input_finished()
    return np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def _librosa_fbank(samples: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=samples, sr=16000, n_fft=512, win_length=400, hop_length=160,
                                         n_mels=80, center=False, power=2.0, htk=True, norm=None)
    return np.log(np.maximum(mel, 1.19e-7)).T


@pytest.mark.benchmark(group="fbank: 60 s of 16 kHz speech, 80 bins")
@pytest.mark.parametrize("impl", ["rtvoice", "peer:kaldi-native-fbank", "peer:librosa"])
def test_fbank_60s(benchmark, mark, dev_long, impl):
    samples = _speech(dev_long, 60.0) * 32768.0
    if impl == "rtvoice":
        fbank = F.Fbank(F.fbank_options(num_mel_bins=80))
        fn, arg = fbank.compute, samples
    elif impl == "peer:kaldi-native-fbank":
        fn, arg = _knf_fbank, samples  # numpy array accepted directly (no list conversion)
    else:
        fn, arg = _librosa_fbank, samples
    result = benchmark.pedantic(fn, args=(arg,), rounds=5, iterations=1, warmup_rounds=1)
    mark(impl, realtime_factor=60.0 / median_s(benchmark), frames=len(result))


@pytest.mark.benchmark(group="whisper log-mel: 30 s of 16 kHz speech")
@pytest.mark.parametrize("impl", ["rtvoice", "peer:faster-whisper"])
def test_whisper_log_mel_30s(benchmark, mark, dev_long, impl):
    audio = _speech(dev_long, 30.0)
    if impl == "rtvoice":
        mel = F.WhisperLogMel()
        fn = mel.compute
    else:
        extractor = FeatureExtractor()
        fn = lambda a: extractor(a, padding=0)  # noqa: E731
    benchmark.pedantic(fn, args=(audio,), rounds=10, iterations=1, warmup_rounds=1)
    mark(impl, realtime_factor=30.0 / median_s(benchmark))
