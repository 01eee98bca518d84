"""RingBuffer: API contract, exact overflow accounting, and lossless transfer between threads."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from rtvoice import RingBuffer

REPO = Path(__file__).resolve().parents[1]


def test_capacity_rounds_up_to_power_of_two():
    assert RingBuffer(1000).capacity == 1024
    assert RingBuffer(1024).capacity == 1024
    assert RingBuffer(1).capacity == 1


@pytest.mark.parametrize(
    "capacity, error",
    [(0, ValueError), (-5, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
     (3.5, TypeError), ("16", TypeError), (None, TypeError), (2**31, ValueError)],
)
def test_bad_capacity_is_a_clear_error(capacity, error):
    with pytest.raises(error, match="capacity"):
        RingBuffer(capacity)


@pytest.mark.parametrize("channels", [0, -1])
def test_bad_channel_count(channels):
    with pytest.raises(ValueError, match="channels"):
        RingBuffer(16, channels)


def test_write_read_roundtrip_with_wraparound():
    rb = RingBuffer(8)
    out = []
    data = np.arange(100, dtype=np.float32)
    pos = 0
    for step in [3, 5, 7, 2, 8, 1, 6, 4] * 5:
        pos += rb.write(data[pos:pos + step])
        out.append(rb.read(3))
    while rb.available:
        out.append(rb.read(5))
    assert np.array_equal(np.concatenate(out), data[:pos])
    assert rb.frames_written == rb.frames_read == pos


def test_overflow_is_counted_exactly_and_nothing_is_overwritten():
    rb = RingBuffer(16)
    assert rb.write(np.arange(20, dtype=np.float32)) == 16
    assert rb.overflow_frames == 4
    assert rb.space == 0
    assert rb.write(np.ones(3, dtype=np.float32)) == 0
    assert rb.overflow_frames == 7
    assert np.array_equal(rb.read(100), np.arange(16, dtype=np.float32))


def test_underflow_reads_are_counted():
    rb = RingBuffer(16)
    rb.write(np.ones(4, dtype=np.float32))
    assert len(rb.read(10)) == 4
    assert rb.underflow_reads == 1
    assert len(rb.read(0)) == 0
    assert rb.underflow_reads == 1
    out = np.full(6, 7.0, dtype=np.float32)
    assert rb.read_or_silence_into(out) == 0
    assert np.all(out == 0.0) and rb.underflow_reads == 2


def test_multichannel_frames_keep_their_layout():
    rb = RingBuffer(32, channels=2)
    frames = np.arange(40, dtype=np.float32).reshape(20, 2)
    assert rb.write(frames) == 20
    got = rb.read(20)
    assert got.shape == (20, 2)
    assert np.array_equal(got, frames)
    out = np.zeros((5, 2), dtype=np.float32)
    rb.write(frames[:5])
    assert rb.read_into(out) == 5 and np.array_equal(out, frames[:5])


@pytest.mark.parametrize(
    "data, error",
    [
        (np.zeros(4, dtype=np.float64), TypeError),
        (np.zeros(4, dtype=np.int16), TypeError),
        (np.zeros((4, 3), dtype=np.float32), ValueError),
        (np.zeros((2, 2, 2), dtype=np.float32), ValueError),
        ([0.0, 1.0], TypeError),
    ],
)
def test_bad_writes_are_clear_errors(data, error):
    rb = RingBuffer(16, channels=1)
    with pytest.raises(error):
        rb.write(data)
    assert rb.frames_written == 0


def test_mono_array_into_stereo_buffer_is_rejected():
    rb = RingBuffer(16, channels=2)
    with pytest.raises(ValueError, match="channels"):
        rb.write(np.zeros(4, dtype=np.float32))


def test_non_contiguous_input_is_copied_correctly():
    rb = RingBuffer(64)
    data = np.arange(40, dtype=np.float32)[::2]
    rb.write(data)
    assert np.array_equal(rb.read(20), data)


def test_reset_empties_and_zeroes_counters():
    rb = RingBuffer(8)
    rb.write(np.ones(12, dtype=np.float32))
    rb.read(20)
    rb.reset()
    assert (rb.available, rb.overflow_frames, rb.underflow_reads, rb.frames_written) == (0, 0, 0, 0)


def test_python_threads_move_ten_million_frames_without_loss():
    """Producer and consumer on two Python threads; sequence numbers expose loss, duplication, reordering."""
    total = 10_000_000
    block = 4096
    rb = RingBuffer(1 << 15)
    sequence = (np.arange(total) % (1 << 24)).astype(np.float32)  # exact integers in float32
    errors = []

    def producer():
        pos = 0
        while pos < total:
            pos += rb.write(sequence[pos:pos + block])

    def consumer():
        pos = 0
        out = np.empty(block * 3, dtype=np.float32)
        while pos < total:
            n = rb.read_into(out)
            if n and not np.array_equal(out[:n], sequence[pos:pos + n]):
                errors.append(pos)
                return
            pos += n

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "transfer hung"
    assert not errors, f"mismatch at frame {errors[0]}"
    assert rb.frames_read == total and rb.available == 0


def test_native_threads_move_ten_million_frames_without_loss():
    binary = REPO / "build" / "dev" / "test_ring_buffer_threads"
    if not binary.exists():
        pytest.fail(f"{binary} not built (make build builds the native tests)")
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
