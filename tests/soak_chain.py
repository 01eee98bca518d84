"""The soak test's chain, run in a process of its own: front end, streaming ASR, captions and voice on one
recording looped as one stream with the virtual clock, sampling the process at every final caption.

    python tests/soak_chain.py AUDIO.wav PASSES ROWS.txt

writes one row per final caption to ROWS.txt: resident MB, OS threads, open descriptors, malloc MB in use;
and one progress line per pass on stderr. A fresh process measures the chain alone: the pytest process that
runs the other tests first holds their models and a heap shaped by them.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

import numpy as np
import soundfile as sf

from rtvoice.allocator import limit_malloc_arenas
from rtvoice.asr import WhisperConfig, WhisperRecognizer
from rtvoice.pipeline.dubbing import DubStage
from rtvoice.pipeline.engine import CaptionPipeline, PipelineConfig
from rtvoice.audio.sources import SAMPLE_RATE, Source
from rtvoice.tts import CallbackSink, SynthesisOptions, TtsEngine, load_voice

FINALS_PER_PASS = 11  # dev_long's utterances


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def os_threads() -> int:
    """Every thread of the process, native ones (ONNX Runtime, CTranslate2, the front end) included."""
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


try:
    _mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    _mallinfo2.restype = _Mallinfo2
except (OSError, AttributeError):  # not glibc 2.33+: resident size only
    _mallinfo2 = None


def malloc_in_use_mb() -> float:
    """Bytes malloc has handed out and not got back (heap chunks in use plus mmapped blocks); NaN without
    glibc's mallinfo2."""
    if _mallinfo2 is None:
        return float("nan")
    info = _mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


class LoopedSource(Source):
    """The same recording over and over as one stream, read as fast as the chain takes it (10 ms blocks)."""

    name = "loop"

    def __init__(self, audio: np.ndarray, times: int):
        super().__init__()
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.times = times

    def describe(self) -> str:
        return f"{self.times} x {len(self.audio) / SAMPLE_RATE:.1f} s, as fast as possible"

    def _run(self) -> None:
        block = SAMPLE_RATE // 100
        for _ in range(self.times):
            for offset in range(0, len(self.audio), block):
                if self._stop.is_set():
                    return
                piece = self.audio[offset:offset + block]
                self.stats.input_frames += len(piece)
                self._deliver(piece, wait=True)


class Sampler:
    """Caption listener: resident memory, threads, descriptors and malloc in use at every final caption."""

    def __init__(self):
        self.rows: list[tuple[float, int, int, float]] = []

    def write(self, event) -> None:
        if event.is_final:
            self.rows.append((rss_mb(), os_threads(), open_fds(), malloc_in_use_mb()))
            if len(self.rows) % FINALS_PER_PASS == 0:
                rss, threads, fds, in_use = self.rows[-1]
                print(f"soak: pass {len(self.rows) // FINALS_PER_PASS}: {rss:.1f} MB resident, {in_use:.1f} MB "
                      f"malloc in use, {threads} threads, {fds} fds", file=sys.stderr, flush=True)


def run(audio_path: str, passes: int) -> tuple[np.ndarray, dict]:
    """Loop the recording `passes` times through the chain; the sampled rows and the counts to check."""
    audio, rate = sf.read(audio_path, dtype="float32")
    if rate != SAMPLE_RATE or audio.ndim != 1:
        raise SystemExit(f"{audio_path}: need mono {SAMPLE_RATE} Hz, got {rate} Hz, shape {audio.shape}")
    recognizer = WhisperRecognizer(WhisperConfig(device="cpu"))
    spoken = []
    stage = DubStage(TtsEngine(load_voice(None), SynthesisOptions(),
                               [CallbackSink(lambda u, s, o: spoken.append(len(s)))]))
    sampler = Sampler()
    source = LoopedSource(audio, passes)
    pipeline = CaptionPipeline(source, recognizer, [*stage.attach(source), sampler],
                               config=PipelineConfig(clock="virtual"))
    stats = pipeline.run()
    stage.finish(interrupted=False)
    counts = {"source_dropped": stats["source"]["dropped"],
              "frontend_dropped_samples": stats["frontend"]["audio_dropped_samples"],
              "finals": stats["asr"]["finals"], "dub_lines": stage.stats()["dub_lines"],
              "samples_spoken": sum(spoken)}
    return np.array(sampler.rows, dtype=np.float64), counts


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    limit_malloc_arenas()  # as the rtvoice command does
    rows, counts = run(argv[0], int(argv[1]))
    np.savetxt(argv[2], rows, fmt="%.3f", header=json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
