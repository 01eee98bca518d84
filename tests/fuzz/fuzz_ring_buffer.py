"""Fuzz RingBuffer with random operation sequences against a Python model of what it must hold."""

import sys
from collections import deque

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice import RingBuffer


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    channels = fdp.ConsumeIntInRange(1, 4)
    rb = RingBuffer(fdp.ConsumeIntInRange(1, 300), channels)
    model: deque = deque()
    next_value = 0.0
    overflow = 0
    for _ in range(fdp.ConsumeIntInRange(0, 60)):
        op = fdp.ConsumeIntInRange(0, 3)
        n = fdp.ConsumeIntInRange(0, 700)
        if op == 0:
            frames = (np.arange(n * channels, dtype=np.float32) + next_value).reshape(n, channels)
            next_value += n * channels
            wrote = rb.write(frames if channels > 1 else frames[:, 0])
            assert wrote == min(n, rb.capacity - len(model))
            overflow += n - wrote
            model.extend(frames[:wrote])
        elif op == 1:
            got = rb.read(n)
            expect = [model.popleft() for _ in range(min(n, len(model)))]
            assert len(got) == len(expect)
            if expect:
                assert np.array_equal(got.reshape(len(expect), channels), np.array(expect))
        elif op == 2:
            out = np.zeros((n, channels) if channels > 1 else n, np.float32)
            got = rb.read_or_silence_into(out)
            assert got == min(n, len(model))
            for _ in range(got):
                model.popleft()
            assert not out.reshape(n, channels)[got:].any()
        else:
            bad = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
            try:
                rb.write(np.frombuffer(bad[: len(bad) // 8 * 8], dtype=np.float64))
            except TypeError:
                pass
        assert rb.available == len(model) and rb.overflow_frames == overflow


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
