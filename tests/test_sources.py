"""Audio sources: files of any rate and channel count, raw PCM through a real pipe, and a microphone path
captured for real from a private PulseAudio server's null sink."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import soxr
from pulse import best_alignment, pulse_server  # noqa: F401  (fixture)

from rtvoice import RingBuffer
from rtvoice.pipeline.engine import check_stats_for_losses
from rtvoice.errors import AudioFormatError, DeviceError
from rtvoice.audio.sources import FileSource, MicSource, StdinSource, StreamClock

SR = 16000


def drain(source, ring_frames: int = 1 << 12, timeout: float = 60.0) -> np.ndarray:
    """Run a source into a ring buffer and read everything it delivers."""
    ring = RingBuffer(ring_frames)
    source.start(ring)
    chunks = []
    deadline = time.monotonic() + timeout
    while not (source.done and ring.available == 0):
        got = ring.read(4096)
        if len(got):
            chunks.append(got)
        else:
            time.sleep(0.002)
        assert time.monotonic() < deadline, "source never finished"
    source.join()
    if source.error:
        raise source.error
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def test_file_16k_mono_is_delivered_unchanged(speech_recordings):
    r = speech_recordings[5]
    source = FileSource(r.path)
    assert not source.live and source.rate == SR
    out = drain(source)
    np.testing.assert_array_equal(out, r.load())
    assert source.stats.delivered == len(out) and source.stats.dropped == 0


def test_file_any_rate_and_channels_is_resampled_and_downmixed(tmp_path, speech_recordings):
    audio = speech_recordings[5].load()
    rate = 44100
    high = soxr.resample(audio, SR, rate)
    stereo = np.stack([high, 0.5 * high], axis=1)
    path = tmp_path / "stereo44k.flac"
    sf.write(path, stereo, rate, subtype="PCM_24")
    source = FileSource(path)
    assert (source.rate, source.channels) == (rate, 2)
    out = drain(source)
    reference = soxr.resample(sf.read(path, dtype="float32")[0].mean(axis=1), rate, SR)  # one-shot, offline
    assert abs(len(out) - len(reference)) <= 2
    n = min(len(out), len(reference))
    assert np.corrcoef(out[:n], reference[:n])[0, 1] > 0.99999
    # and it is still the original speech
    assert np.corrcoef(out[:len(audio)], 0.75 * audio[:len(out)])[0, 1] > 0.995  # 16k->44.1k->16k band edge


def test_realtime_file_is_paced_and_clocked(speech_recordings):
    r = speech_recordings[9]
    source = FileSource(r.path, realtime=True)
    assert source.live
    t0 = time.time()
    out = drain(source, ring_frames=1 << 16)
    elapsed = time.time() - t0
    assert len(out) == int(r.duration_s * SR)
    assert elapsed >= 0.95 * r.duration_s  # never faster than real time
    assert abs(source.clock.wall_time(0) - t0) < 0.1
    assert source.clock.wall_time(SR) - source.clock.wall_time(0) == pytest.approx(1.0)


def test_realtime_file_counts_what_a_slow_consumer_loses(speech_recordings):
    r = speech_recordings[9]
    source = FileSource(r.path, realtime=True)
    ring = RingBuffer(1024)  # 64 ms, never read: like a stalled front end
    source.start(ring)
    source.join(30)
    assert source.stats.dropped == int(r.duration_s * SR) - 1024
    assert ring.overflow_frames == source.stats.dropped


def test_missing_corrupt_and_empty_files(tmp_path):
    with pytest.raises(AudioFormatError, match="no such file"):
        FileSource(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioFormatError, match="not a readable audio file"):
        FileSource(bad)
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    with pytest.raises(AudioFormatError, match="not a readable audio file"):
        FileSource(text)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    with pytest.raises(AudioFormatError, match="no audio"):
        FileSource(empty)


def test_truncated_file_reads_what_is_there(tmp_path, speech_recordings):
    audio = speech_recordings[5].load()
    path = tmp_path / "cut.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])  # cut mid-sample; the header still claims the whole file
    source = FileSource(path)
    out = drain(source)
    assert 0.45 * len(audio) < len(out) <= len(audio) // 2 + 1
    np.testing.assert_allclose(out[:1000], audio[:1000], atol=1 / 32768)
    # ... and says so: the header's frame count against what was read (check_stats_for_losses prints it)
    assert source.stats.header_frames == len(audio)
    assert source.stats.missing_frames == len(audio) - len(out) > 0
    lines = check_stats_for_losses({"source": source.stats.as_dict(), "frontend": {}, "asr": {}})
    assert lines == [f"source: truncated file: the header says {len(audio)} frames, {len(out)} were read"]
    # a whole file, and a WAV streamed with no size in its header, give no such warning
    whole = tmp_path / "whole.wav"
    sf.write(whole, audio, SR, subtype="PCM_16")
    source = FileSource(whole)
    drain(source)
    assert source.stats.header_frames == len(audio) and source.stats.missing_frames == 0
    streamed = bytearray(whole.read_bytes())
    streamed[40:44] = b"\xff\xff\xff\xff"  # the data chunk size a pipe writer leaves unknown
    path.write_bytes(bytes(streamed))
    source = FileSource(path)
    drain(source)
    assert source.stats.header_frames == 0 and source.stats.missing_frames == 0


def _pipe_source(payload: bytes, **kwargs) -> StdinSource:
    read_fd, write_fd = os.pipe()

    def writer():
        with os.fdopen(write_fd, "wb") as w:
            for i in range(0, len(payload), 4096):
                w.write(payload[i:i + 4096])

    threading.Thread(target=writer, daemon=True).start()
    return StdinSource(stream=os.fdopen(read_fd, "rb"), **kwargs)


@pytest.mark.parametrize("fmt, dtype, scale", [("s16le", "<i2", 32768), ("s32le", "<i4", 2 ** 31), ("f32le", "<f4", 1)])
def test_raw_pcm_through_a_pipe(fmt, dtype, scale, speech_recordings):
    audio = speech_recordings[5].load()[: SR * 2]
    if fmt == "f32le":
        raw = audio.astype(dtype)
    else:
        raw = np.clip(np.round(audio * scale), -scale, scale - 1).astype(dtype)
    out = drain(_pipe_source(raw.tobytes() + b"\x01\x02\x03"[: np.dtype(dtype).itemsize - 1], fmt=fmt))
    assert len(out) == len(audio)
    np.testing.assert_allclose(out, raw.astype(np.float64) / scale, atol=1e-7)


def test_raw_pcm_stereo_48k_is_downmixed_and_resampled(speech_recordings):
    audio = speech_recordings[5].load()[: SR * 2]
    high = soxr.resample(audio, SR, 48000)
    interleaved = np.stack([high, high], axis=1)
    raw = (np.clip(interleaved, -1, 1) * 32767).astype("<i2")
    source = _pipe_source(raw.tobytes() + b"\x00", fmt="s16le", rate=48000, channels=2)
    out = drain(source)
    assert source.stats.trailing_bytes == 1
    reference = soxr.resample(raw.astype(np.float32).mean(axis=1) / 32768, 48000, SR)  # one-shot, offline
    assert abs(len(out) - len(reference)) <= 2
    n = min(len(out), len(reference))
    assert np.corrcoef(out[:n], reference[:n])[0, 1] > 0.99999


def test_raw_float_garbage_is_counted_not_passed_on():
    values = np.array([0.1, np.nan, -0.2, np.inf] * 400, dtype="<f4")
    source = _pipe_source(values.tobytes(), fmt="f32le")
    out = drain(source)
    assert source.stats.invalid_samples == 800
    assert np.all(np.isfinite(out))


def test_raw_pcm_with_the_wrong_declared_sample_format_is_reported(speech_recordings):
    audio = speech_recordings[5].load()[: SR * 2]
    floats = audio.astype("<f4").tobytes()
    shorts = np.clip(np.round(audio * 32768), -32768, 32767).astype("<i2").tobytes()
    # float32 data declared s16le: loud noise whose bytes are plausible floats
    source = _pipe_source(floats, fmt="s16le")
    drain(source)
    assert "declared s16le reads as loud noise" in source.stats.format_warning
    assert source.stats.format_warning.endswith("is it f32le?")
    # s16 data declared f32le: NaN/Inf (counted and replaced) and absurd magnitudes
    source = _pipe_source(shorts, fmt="f32le")
    out = drain(source)
    assert "declared f32le does not look like float audio" in source.stats.format_warning
    assert source.stats.format_warning.endswith("is it s16le?") and np.all(np.isfinite(out))
    lines = check_stats_for_losses({"source": source.stats.as_dict(), "frontend": {}, "asr": {}})
    assert len([line for line in lines if "is it s16le?" in line]) == 1
    # 48 kHz stereo (identical channels) declared 16 kHz mono: pairs of equal samples
    high = np.round(soxr.resample(audio, SR, 48000) * 32767).astype("<i2")
    source = _pipe_source(np.stack([high, high], axis=1).tobytes(), fmt="s16le")
    drain(source)
    assert "interleaved stereo?" in source.stats.format_warning
    # correct declarations (and silence, loud s16 noise, 48 kHz mono) raise nothing
    noise = (np.random.default_rng(1).uniform(-1, 1, SR) * 32767).astype("<i2").tobytes()
    stereo = np.stack([high, high], axis=1).tobytes()
    for payload, fmt, rate, channels in ((floats, "f32le", SR, 1), (shorts, "s16le", SR, 1),
                                         (bytes(4 * SR), "s16le", SR, 1), (noise, "s16le", SR, 1),
                                         (high.tobytes(), "s16le", 48000, 1), (stereo, "s16le", 48000, 2)):
        source = _pipe_source(payload, fmt=fmt, rate=rate, channels=channels)
        drain(source)
        assert source.stats.format_warning == "", (fmt, rate, channels)


def test_raw_pcm_errors():
    with pytest.raises(AudioFormatError, match="unknown raw format"):
        StdinSource("u8")
    with pytest.raises(AudioFormatError, match="--rate"):
        StdinSource("s16le", rate=0)
    with pytest.raises(AudioFormatError, match="--channels"):
        StdinSource("s16le", channels=0)
    with pytest.raises(AudioFormatError, match="no audio on standard input"):
        drain(_pipe_source(b""))
    with pytest.raises(AudioFormatError, match="less than one frame"):
        drain(_pipe_source(b"\x01", fmt="s16le", channels=2))


def test_stream_clock_keeps_the_earliest_bound():
    clock = StreamClock()
    assert clock.wall_time(0) is None
    clock.observe(1600, wall=100.2)  # 0.1 s of audio seen at 100.2: it started no later than 100.1
    clock.observe(3200, wall=100.25)  # a quicker hand-over: no later than 100.05
    clock.observe(4800, wall=100.5)
    assert clock.wall_time(0) == pytest.approx(100.05)
    assert clock.wall_time(16000) == pytest.approx(101.05)


def test_unknown_microphone_is_a_clear_error():
    with pytest.raises(DeviceError, match="no input device"):
        MicSource("no such microphone anywhere")
    with pytest.raises(DeviceError, match="index 9999"):
        MicSource(9999)


@pytest.mark.device
def test_microphone_captures_what_is_played(pulse_server, speech_recordings):  # noqa: F811
    """Play a real recording into the null sink; the microphone source, reading the sink's monitor through
    PortAudio's 'pulse' device at 44.1 kHz, delivers it at 16 kHz, intact and on time."""
    r = speech_recordings[5]
    source = MicSource("pulse")
    assert source.live and source.rate != SR  # resampling is exercised
    ring = RingBuffer(1 << 18)
    source.start(ring)
    time.sleep(0.3)
    started = time.time()
    pulse_server.play(r.path)
    time.sleep(0.3)
    source.stop()
    assert source.join(5) and source.error is None
    captured = ring.read(ring.available)
    assert source.stats.dropped == 0 and source.stats.device_overflow == 0
    lag, correlation = best_alignment(captured, r.load())
    assert correlation > 0.99, correlation
    # The speech appears in the stream about when it was played (clock error + output latency).
    assert abs(source.clock.wall_time(lag) - started) < 0.5
