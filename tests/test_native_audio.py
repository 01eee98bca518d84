"""Native PortAudio streams (rtvoice._core.CaptureStream / PlaybackStream): callbacks with no Python in them.

Checked for real through the private PulseAudio null sink (tests/pulse.py): what the playback stream plays
is what the capture stream records from the sink's monitor; the counters, the finished flag and the
barge-in discard do what they say; PortAudio errors are clear exceptions. The choice between native and
Python callbacks (rtvoice.audio.native) is checked without a device.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from pulse import best_alignment, pulse_server  # noqa: F401  (fixture)

from rtvoice import RingBuffer
from rtvoice.audio import native as native_audio
from rtvoice.errors import DeviceError

pytestmark = pytest.mark.skipif(not native_audio.available(), reason="built without PortAudio headers")
needs_device = pytest.mark.skipif(os.environ.get("RTVOICE_SANITIZED") == "1",
                                  reason="no PulseAudio server under the sanitizer preload")


def test_config_is_validated():
    from rtvoice._core import AudioStreamConfig

    c = AudioStreamConfig(device=3, channels=2, sample_rate=44100.0, frames_per_buffer=256, suggested_latency_s=0.02)
    assert (c.device, c.channels, c.sample_rate, c.frames_per_buffer) == (3, 2, 44100.0, 256)
    assert "channels=2" in repr(c)
    for bad in (dict(channels=0), dict(sample_rate=10.0), dict(device=-2), dict(frames_per_buffer=-1),
                dict(suggested_latency_s=float("nan"))):
        with pytest.raises(ValueError):
            AudioStreamConfig(**bad)


def test_a_ring_of_the_wrong_width_or_a_missing_device_is_a_clear_error():
    from rtvoice._core import AudioStreamConfig, AudioStreamError, CallbackMeter, CaptureStream

    with pytest.raises(ValueError, match="2 channels, the stream 1"):
        CaptureStream(AudioStreamConfig(channels=1), RingBuffer(1024, 2), CallbackMeter())
    with pytest.raises(AudioStreamError, match="no PortAudio device 999"):
        CaptureStream(AudioStreamConfig(device=999), RingBuffer(1024), CallbackMeter())


def test_the_choice_of_callback_path(monkeypatch):
    monkeypatch.delenv(native_audio.ENV, raising=False)
    assert native_audio.use_native(None) is True and native_audio.use_native(False) is False
    monkeypatch.setenv(native_audio.ENV, "0")
    assert native_audio.use_native(None) is False and native_audio.use_native(True) is True
    monkeypatch.setattr(native_audio, "available", lambda: False)
    with pytest.raises(DeviceError, match="no native audio callbacks"):
        native_audio.use_native(True)
    assert native_audio.suggested_latency({"default_low_output_latency": 0.01}, "output", "low") == 0.01
    with pytest.raises(ValueError, match="latency"):
        native_audio.suggested_latency({}, "output", "medium")


@needs_device
def test_what_the_playback_stream_plays_the_capture_stream_records(pulse_server):  # noqa: F811
    from rtvoice._core import AudioStreamConfig, CallbackMeter, CaptureStream, PlaybackStream
    from rtvoice.audio.devices import resolve_device

    rate = 16000.0  # the test sink's rate: no resampling in PulseAudio
    t = np.arange(int(rate * 0.6)) / rate
    chirp = (0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t)).astype(np.float32)
    captured_ring, played_ring = RingBuffer(1 << 16), RingBuffer(1 << 16)
    capture = CaptureStream(AudioStreamConfig(resolve_device("pulse", "input"), 1, rate), captured_ring, CallbackMeter(),
                            CallbackMeter())
    playback = PlaybackStream(AudioStreamConfig(resolve_device("pulse", "output"), 1, rate, 0, 0.05), played_ring,
                              CallbackMeter(), CallbackMeter())
    assert not capture.active and not capture.finished
    capture.start()
    time.sleep(0.2)
    played_ring.write(chirp)
    playback.start()
    assert capture.active and playback.active and 0 < playback.latency < 1 and capture.samplerate == rate
    time.sleep(1.2)
    playback.stop()
    capture.stop()
    assert capture.finished and playback.finished and not capture.active
    c, p = capture.counters(), playback.counters()
    assert c["frames"] == capture.frames == captured_ring.frames_written and c["callbacks"] > 10
    assert p["frames"] >= len(chirp) and p["silence_frames"] == p["frames"] - len(chirp)
    assert played_ring.available == 0 and c["ring_refused_frames"] == 0
    lag, correlation = best_alignment(captured_ring.read(captured_ring.available), chirp)
    assert correlation > 0.99, correlation
    capture.close()
    playback.close()
    capture.close()  # idempotent
    assert capture.closed and not capture.active


@needs_device
def test_a_discard_request_drops_the_queue_in_the_callback(pulse_server):  # noqa: F811
    from rtvoice._core import AudioStreamConfig, CallbackMeter, PlaybackStream
    from rtvoice.audio.devices import resolve_device

    ring, meter = RingBuffer(1 << 16), CallbackMeter()
    playback = PlaybackStream(AudioStreamConfig(resolve_device("pulse", "output"), 1, 16000.0, 0, 0.05), ring, meter)
    ring.write(np.full(48000, 0.1, np.float32))  # 3 s queued
    playback.start()
    time.sleep(0.3)
    queued = ring.available
    playback.request_discard()
    time.sleep(0.3)
    c = playback.counters()
    playback.close()
    assert c["discards"] == 1 and 0 < queued <= c["discarded_frames"] + 16000 * 0.1
    assert ring.available == 0 and ring.frames_read == 48000 and meter.count == c["callbacks"] > 5
