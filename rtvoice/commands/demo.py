"""``rtvoice demo``: the main job on the bundled defaults (what ``make run`` runs).

Streams a real recording (a LibriVox reading shipped by Debian's pocketsphinx-testdata) through the
native core the way a live source would: 10 ms blocks written into the lock-free ring buffer by a
producer thread, read by a worker that computes Whisper log-mel features, with timing figures.
Later stages (captions, voice) extend this job as they land.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

DEFAULT_RECORDING = Path(
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
)


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the main job on the bundled defaults (what `make run` does)")
    p.add_argument("--input", type=Path, default=None,
                   help="audio file (default: a LibriVox reading from Debian's pocketsphinx-testdata)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from rtvoice import RingBuffer
    from rtvoice.errors import AudioFormatError
    from rtvoice.features import WhisperLogMel

    path = args.input or DEFAULT_RECORDING
    if not path.is_file():
        raise AudioFormatError(f"{path} not found (install Debian's pocketsphinx-testdata or pass --input)")
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1).astype(np.float32)
    print(f"rtvoice demo: {path.name}, {len(audio) / rate:.2f} s at {rate} Hz")

    block = rate // 100  # 10 ms
    ring = RingBuffer(rate * 2)
    received = []
    done = threading.Event()

    def consumer() -> None:
        while not (done.is_set() and ring.available == 0):
            chunk = ring.read(block * 10)
            if len(chunk):
                received.append(chunk)
            else:
                time.sleep(0.001)

    worker = threading.Thread(target=consumer, name="rtvoice-demo-consumer")
    worker.start()
    t0 = time.perf_counter()
    for start in range(0, len(audio), block):
        piece = audio[start:start + block]
        while ring.space < len(piece):  # a file reader may wait; an audio callback never does
            time.sleep(0.0005)
        ring.write(piece)
    done.set()
    worker.join()
    stream_s = time.perf_counter() - t0
    streamed = np.concatenate(received) if received else np.zeros(0, np.float32)
    assert np.array_equal(streamed, audio), "ring buffer changed the audio"

    mel = WhisperLogMel()
    t0 = time.perf_counter()
    features = mel.compute(streamed)
    mel_s = time.perf_counter() - t0
    seconds = len(audio) / rate
    print(f"  ring buffer: {len(audio)} samples through, overflow {ring.overflow_frames}, "
          f"{stream_s * 1e3:.1f} ms ({seconds / stream_s:.0f}x real time)")
    print(f"  whisper log-mel: {features.shape[1]} frames x {features.shape[0]} mels in {mel_s * 1e3:.2f} ms "
          f"({seconds / mel_s:.0f}x real time)")
    return 0
