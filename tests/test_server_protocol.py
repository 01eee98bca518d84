"""The server's protocol parser (rtvoice.server.protocol): configs, frames, tokens, rate limits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtvoice.server.protocol import CLOSE_CODES, Limits, ProtocolError, RateLimiter, TokenBucket, close_reason, \
    decode_audio, parse_config, parse_control, tokens_match


def config(**fields) -> str:
    return json.dumps({"type": "config", "protocol": 1, "sample_rate": 16000, "format": "s16le", **fields})


def test_a_full_config_is_read():
    c = parse_config(config(sample_rate=48000, format="f32le", channels=2, language="de", outputs=["final"],
                            realtime=False, stream="studio-A.1", token="t", voice=True))
    assert (c.sample_rate, c.format, c.channels, c.language, c.outputs, c.realtime, c.stream, c.token) == \
        (48000, "f32le", 2, "de", ("final",), False, "studio-A.1", "t")
    assert c.frame_bytes == 8 and c.voice
    defaults = parse_config(config())
    assert (defaults.channels, defaults.realtime, defaults.stream, defaults.outputs) == \
        (1, True, None, ("partial", "final", "lag"))


@pytest.mark.parametrize("fields, code, words", [
    ({"type": "hello"}, "bad_config", '"type": "config"'),
    ({"protocol": 2}, "bad_config", "protocol version"),
    ({"protocol": True}, "bad_config", "protocol version"),
    ({"sample_rate": 100}, "bad_config", "sample_rate"),
    ({"sample_rate": 16000.5}, "bad_config", "sample_rate"),
    ({"sample_rate": True}, "bad_config", "sample_rate"),
    ({"format": "s24le"}, "bad_config", "format"),
    ({"channels": 0}, "bad_config", "channels"),
    ({"channels": 9}, "bad_config", "channels"),
    ({"language": "English"}, "bad_config", "language"),
    ({"outputs": "final"}, "bad_config", "outputs"),
    ({"outputs": ["final", "voice"]}, "bad_config", "outputs"),
    ({"realtime": "yes"}, "bad_config", "realtime"),
    ({"stream": "../etc/passwd"}, "bad_config", "stream"),
    ({"stream": "x" * 65}, "bad_config", "stream"),
    ({"token": 5}, "bad_config", "token"),
    ({"voice": "yes"}, "bad_config", "voice"),
    ({"rate": 16000}, "bad_config", "unknown config field 'rate'"),
    ({"audio_track": 1}, "bad_config", "'audio_track' is for a feed the server pulls"),
])
def test_a_bad_config_is_refused_with_a_reason(fields, code, words):
    with pytest.raises(ProtocolError) as refused:
        parse_config(config(**fields))
    assert refused.value.code == code and words in refused.value.reason
    assert refused.value.close_code == CLOSE_CODES[code]


def feed_config(**fields) -> str:
    return json.dumps({"type": "config", "protocol": 1, **fields})


def test_a_feed_the_server_pulls_is_read():
    c = parse_config(feed_config(url="srt://encoder:9000?latency=200000", audio_track=2, connect_timeout=3,
                                 reconnect_for=0, stream="studio-b", outputs=["final"]))
    assert (c.feed.url, c.feed.audio_track, c.feed.connect_timeout_s, c.feed.reconnect_for_s) == \
        ("srt://encoder:9000?latency=200000", 2, 3.0, 0.0)
    assert (c.sample_rate, c.format, c.channels, c.realtime, c.stream) == (16000, "s16le", 1, True, "studio-b")
    assert parse_config(feed_config(url="rtmp://0.0.0.0:1935/live/key", listen=True)).feed.listening
    assert parse_config(feed_config(url="udp://:5000")).feed.reconnect_for_s == 30.0
    assert parse_config(config()).feed is None


@pytest.mark.parametrize("fields, words", [
    ({"url": "file:///etc/passwd"}, "must be a feed FFmpeg reads"),
    ({"url": "/tmp/talk.wav"}, "must be a feed FFmpeg reads"),
    ({"url": "srt://"}, "has no host"),
    ({"url": "srt://h:port"}, "malformed"),
    ({"url": "srt://[::1:9000"}, "malformed"),
    ({"url": "srt://h:1 -f null"}, "spaces or control"),
    ({"url": "srt://h:1\n"}, "spaces or control"),
    ({"url": "srt://h:" + "1" * 1100}, "at most 1024"),
    ({"url": 7}, "at most 1024"),
    ({"url": "udp://h:5000", "listen": True}, "works for srt://"),
    ({"url": "srt://h:1", "audio_track": -1}, "audio_track"),
    ({"url": "srt://h:1", "listen": "yes"}, "listen"),
    ({"url": "srt://h:1", "connect_timeout": 0}, "connect_timeout"),
    ({"url": "srt://h:1", "reconnect_for": True}, "reconnect_for"),
    ({"url": "srt://h:1", "sample_rate": 16000}, "a pulled feed's audio comes from its 'url'"),
    ({"url": "srt://h:1", "realtime": False}, "'realtime' must be true"),
])
def test_a_bad_feed_url_is_refused_with_a_reason(fields, words):
    with pytest.raises(ProtocolError) as refused:
        parse_config(feed_config(**fields))
    assert refused.value.code == "bad_config" and words in refused.value.reason, refused.value.reason
    assert "\n" not in refused.value.reason


@pytest.mark.parametrize("message, words", [
    (b"\x00\x01", "text (JSON)"), (config().encode(), "text (JSON)"), ("{", "not valid JSON"), ("[1]", "JSON object"), ("[" * 100000, "larger than"),
    ('{"type": "config", "protocol": 1, "format": "s16le"}', "'sample_rate' is required"),
])
def test_a_first_message_that_is_no_config_is_refused(message, words):
    with pytest.raises(ProtocolError) as refused:
        parse_config(message)
    assert words in refused.value.reason


def test_a_deeply_nested_config_is_refused_not_crashed():
    with pytest.raises(ProtocolError):
        parse_config("[" * 3000 + "]" * 3000, Limits(max_config_bytes=10000))


def test_frames_decode_to_float_frames_by_format_and_channels():
    s16 = parse_config(config(channels=2))
    samples = decode_audio(np.array([[16384, -32768], [0, 32767]], "<i2").tobytes(), s16)
    assert samples.shape == (2, 2) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, [[0.5, -1.0], [0.0, 32767 / 32768]])
    f32 = parse_config(config(format="f32le"))
    values = np.array([0.25, -0.5, 1.0], "<f4")
    np.testing.assert_array_equal(decode_audio(values.tobytes(), f32)[:, 0], values)
    assert decode_audio(b"", f32).shape == (0, 1)


def test_bad_frames_are_refused():
    s16 = parse_config(config(channels=2))
    with pytest.raises(ProtocolError, match="whole number") as bad:
        decode_audio(b"\x00" * 6, s16)
    assert bad.value.code == "bad_frame"
    with pytest.raises(ProtocolError) as big:
        decode_audio(b"\x00" * 1028, s16, Limits(max_frame_bytes=1024))
    assert big.value.code == "too_large" and "1024" in big.value.reason
    with pytest.raises(ProtocolError, match="binary"):
        decode_audio("text", s16)


def test_only_end_is_a_control_message():
    assert parse_control('{"type": "end"}') == "end"
    for message in ('{"type": "pause"}', "end", '{"type": "end"', b'{"type": "end"}'):
        with pytest.raises(ProtocolError) as bad:
            parse_control(message)
        assert bad.value.code == "bad_frame"


def test_tokens_are_compared_whole():
    assert tokens_match(None, None) and tokens_match("x", None)
    assert tokens_match("s3cret", "s3cret")
    assert not tokens_match(None, "s3cret") and not tokens_match("s3cre", "s3cret")
    assert not tokens_match("s3cret2", "s3cret") and not tokens_match("", "s3cret")
    assert not tokens_match("\udcff", "s3cret")  # lone surrogates are compared, not crashed on


def test_rate_limits_refill_with_time():
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=5, clock=lambda: now[0])
    assert all(bucket.take() for _ in range(5)) and not bucket.take()
    now[0] = 0.2  # two refilled
    assert bucket.take() and bucket.take() and not bucket.take()
    limiter = RateLimiter(Limits(messages_per_s=100, message_burst=3, bytes_per_s=1000, byte_burst=1000),
                          clock=lambda: now[0])
    limiter.check(600)
    with pytest.raises(ProtocolError, match="MB a second") as over:
        limiter.check(600)
    assert over.value.code == "rate_limited"
    limiter.check(0)
    with pytest.raises(ProtocolError, match="messages a second"):
        limiter.check(0)


def test_close_reasons_fit_a_close_frame():
    assert close_reason("short") == "short"
    long = close_reason("é" * 200)
    assert len(long.encode()) <= 123 and long.endswith("...")


def test_limits_are_validated():
    with pytest.raises(ValueError):
        Limits(max_frame_bytes=10)
    with pytest.raises(ValueError):
        Limits(stall_timeout_s=0)
