"""The rtvoice streaming protocol, version 1 (docs/server-protocol.md): parsing and validation, no I/O.

Everything a client sends passes through this module before the server acts on it, so it is small, pure
Python (plus numpy for the samples, and rtvoice.audio.network's FeedConfig for a URL the server is asked to
pull) and fuzzed (tests/fuzz/fuzz_server_protocol.py). Each function either
returns a validated value or raises :class:`ProtocolError` with a code, a WebSocket close code and a
one-line reason; it never raises anything else on any input.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from rtvoice.audio.network import FEED_SCHEMES, FeedConfig
from rtvoice.errors import FeedError

PROTOCOL_VERSION = 1
FORMATS = {"s16le": ("<i2", 1 / 32768.0), "f32le": ("<f4", 1.0)}
OUTPUTS = ("partial", "final", "lag")  # event kinds a client may ask for (errors, ready, stats always come)
STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})?")

# Error codes: the name goes into the error event, the number is the WebSocket close code (4000-4999 is
# the application range; the last three digits follow the HTTP status they resemble).
CLOSE_CODES = {
    "bad_config": 4400,
    "bad_frame": 4422,
    "unauthorized": 4401,
    "stalled": 4408,
    "stream_in_use": 4409,
    "too_large": 4413,
    "rate_limited": 4429,
    "slow_client": 4430,
    "internal": 4500,
    "feed_unavailable": 4502,
    "busy": 4503,
}


class ProtocolError(Exception):
    """A message the server refuses: `code` names it (see CLOSE_CODES), `reason` is one line for people."""

    def __init__(self, code: str, reason: str):
        if code not in CLOSE_CODES:
            raise ValueError(f"unknown protocol error code {code!r}")
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    @property
    def close_code(self) -> int:
        return CLOSE_CODES[self.code]

    def event(self) -> dict:
        return error_event(self.code, self.reason)


@dataclass(frozen=True)
class Limits:
    """What one stream may send. Sizes in bytes, times in seconds, rates per second.

    max_config_bytes: the first (JSON) message.
    max_frame_bytes: one binary audio message (256 KiB: 8 s of 16 kHz s16le mono, 4 s of f32le).
    max_control_bytes: a JSON message after the config (only ``{"type": "end"}`` so far).
    config_timeout_s: time allowed for the first message after the socket opens.
    stall_timeout_s: a stream that sends nothing for this long is closed ("stalled").
    messages_per_s, message_burst: token bucket on messages (a flood of tiny frames is refused).
    bytes_per_s, byte_burst: token bucket on audio bytes (16 kHz f32le mono is 64 kB/s).
    """

    max_config_bytes: int = 4096
    max_frame_bytes: int = 256 * 1024
    max_control_bytes: int = 1024
    config_timeout_s: float = 5.0
    stall_timeout_s: float = 10.0
    messages_per_s: float = 200.0
    message_burst: float = 400.0
    bytes_per_s: float = 4e6
    byte_burst: float = 8e6

    def __post_init__(self):
        for name in ("max_config_bytes", "max_frame_bytes", "max_control_bytes"):
            if getattr(self, name) < 64:
                raise ValueError(f"{name} must be >= 64 bytes, got {getattr(self, name)}")
        for name in ("config_timeout_s", "stall_timeout_s", "messages_per_s", "message_burst", "bytes_per_s",
                     "byte_burst"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class StreamConfig:
    """A client's first message, validated.

    sample_rate: Hz of the PCM the client sends; format: s16le or f32le; channels: interleaved channels.
    language: language code (multilingual models; English-only models ignore it).
    outputs: event kinds the client wants (see OUTPUTS).
    realtime: the client sends audio as it is captured (a live feed): the server never waits for it and
        skips partial captions when behind. False: a recording sent as fast as possible; the server reads
        the socket only as fast as it recognises (flow control), so nothing is dropped.
    stream: the client's name for the stream (caption files, the overlay's ?stream=); None: the server
        names it.
    token: the shared secret, when the server has one.
    voice: speak each final in the server's voice and send the audio back (rtvoice.server.voice).
    feed: the server pulls this network feed itself (config "url"); the client then sends no audio, and
        sample_rate/format/channels describe what FFmpeg hands the server (16 kHz s16le mono).
    """

    sample_rate: int
    format: str
    channels: int = 1
    language: str = "en"
    outputs: tuple[str, ...] = ("partial", "final", "lag")
    realtime: bool = True
    stream: str | None = None
    token: str | None = field(default=None, repr=False)
    voice: bool = False
    feed: FeedConfig | None = None
    protocol: int = PROTOCOL_VERSION

    @property
    def frame_bytes(self) -> int:
        return np.dtype(FORMATS[self.format][0]).itemsize * self.channels


_CONFIG_FIELDS = {"type", "protocol", "sample_rate", "format", "channels", "language", "outputs", "realtime",
                  "stream", "token", "voice", "url", "audio_track", "listen", "connect_timeout", "stall_timeout", "reconnect_for"}
_FEED_FIELDS = ("audio_track", "listen", "connect_timeout", "stall_timeout", "reconnect_for")  # only with "url"
_PUSH_FIELDS = ("sample_rate", "format", "channels")  # only without "url"
MAX_URL_CHARS = 1024


def _json_object(data, limit: int, what: str, code: str) -> dict:
    if isinstance(data, (bytes, bytearray)):
        raise ProtocolError(code, f"{what} must be a text (JSON) message, got {len(data)} bytes of binary")
    if not isinstance(data, str):
        raise ProtocolError(code, f"{what} must be a text (JSON) message")
    if len(data.encode("utf-8", "surrogatepass")) > limit:
        raise ProtocolError("too_large", f"{what} is larger than {limit} bytes")
    try:
        message = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(code, f"{what} is not valid JSON ({str(error).splitlines()[0][:80]})") from None
    if not isinstance(message, dict):
        raise ProtocolError(code, f"{what} must be a JSON object, got {type(message).__name__}")
    return message


def _integer(message: dict, name: str, default, low: int, high: int) -> int:
    value = message.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError("bad_config", f"{name!r} must be a whole number from {low} to {high}, got {value!r:.40}")
    return value


def parse_config(data, limits: Limits = Limits()) -> StreamConfig:
    """The first message of a stream (its text; a binary first message is refused) → StreamConfig, or
    ProtocolError."""
    message = _json_object(data, limits.max_config_bytes, "the first message (the stream config)", "bad_config")
    if message.get("type") != "config":
        raise ProtocolError("bad_config", f"the first message must have \"type\": \"config\", "
                                          f"got {message.get('type')!r:.40}")
    unknown = sorted(str(k) for k in message if k not in _CONFIG_FIELDS)
    if unknown:
        raise ProtocolError("bad_config", f"unknown config field {unknown[0][:40]!r} "
                                          f"(known: {', '.join(sorted(_CONFIG_FIELDS))})")
    version = message.get("protocol")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError("bad_config", f"unsupported protocol version {version!r:.20} "
                                          f"(this server speaks {PROTOCOL_VERSION})")
    if "url" in message:
        return _feed_config(message)
    stray = [name for name in _FEED_FIELDS if name in message]
    if stray:
        raise ProtocolError("bad_config", f"{stray[0]!r} is for a feed the server pulls (give 'url')")
    if "sample_rate" not in message:
        raise ProtocolError("bad_config", "'sample_rate' is required (Hz of the PCM sent)")
    rate = _integer(message, "sample_rate", None, 8000, 192000)
    fmt = message.get("format")
    if fmt not in FORMATS:
        raise ProtocolError("bad_config", f"'format' must be one of {', '.join(FORMATS)}, got {fmt!r:.40}")
    channels = _integer(message, "channels", 1, 1, 8)
    return StreamConfig(sample_rate=rate, format=fmt, channels=channels, **_common_fields(message))


def _common_fields(message: dict) -> dict:
    """The config fields of every stream, pushed or pulled, validated (StreamConfig keywords)."""
    language = message.get("language", "en")
    if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
        raise ProtocolError("bad_config", f"'language' must be a language code such as \"en\", got {language!r:.40}")
    outputs = message.get("outputs", list(OUTPUTS))
    if (not isinstance(outputs, list) or len(outputs) > len(OUTPUTS) * 2
            or any(not isinstance(o, str) or o not in OUTPUTS for o in outputs)):
        raise ProtocolError("bad_config", f"'outputs' must be a list drawn from {', '.join(OUTPUTS)}, "
                                          f"got {outputs!r:.60}")
    realtime = message.get("realtime", True)
    if not isinstance(realtime, bool):
        raise ProtocolError("bad_config", f"'realtime' must be true or false, got {realtime!r:.20}")
    stream = message.get("stream")
    if stream is not None and (not isinstance(stream, str) or not STREAM_ID.fullmatch(stream)):
        raise ProtocolError("bad_config", "'stream' must be 1-64 characters from A-Z a-z 0-9 _ . -")
    token = message.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > 256):
        raise ProtocolError("bad_config", "'token' must be a string of at most 256 characters")
    voice = message.get("voice", False)
    if not isinstance(voice, bool):
        raise ProtocolError("bad_config", f"'voice' must be true or false, got {voice!r:.20}")
    return dict(language=language, outputs=tuple(dict.fromkeys(outputs)), realtime=realtime, stream=stream,
                token=token, voice=voice)


def _seconds(message: dict, name: str, low: float, high: float) -> float | None:
    value = message.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ProtocolError("bad_config", f"{name!r} must be a number of seconds from {low:g} to {high:g}, "
                                          f"got {value!r:.40}")
    return float(value)


def _feed_config(message: dict) -> StreamConfig:
    """A config with "url": the server pulls the feed (rtvoice.audio.network), the client sends no audio."""
    url = message["url"]
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_CHARS:
        raise ProtocolError("bad_config", f"'url' must be a feed URL of at most {MAX_URL_CHARS} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ProtocolError("bad_config", "'url' must not contain spaces or control characters")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in FEED_SCHEMES:
        given = f"{scheme[:16]}://" if scheme else f"{url[:16]!r}"
        raise ProtocolError("bad_config", f"'url' must be a feed FFmpeg reads: "
                                          f"{', '.join(s + '://' for s in FEED_SCHEMES)}; got {given}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is no number raises ValueError)
    except ValueError as error:
        raise ProtocolError("bad_config", f"'url' is malformed ({str(error)[:60]})") from None
    if not parts.hostname and not (scheme in ("udp", "rtp") and parts.port):
        raise ProtocolError("bad_config", f"'url' has no host ({scheme}://HOST:PORT...)")
    stray = [name for name in _PUSH_FIELDS if name in message]
    if stray:
        raise ProtocolError("bad_config", f"{stray[0]!r} is for audio the client sends; a pulled feed's audio "
                                          f"comes from its 'url'")
    if message.get("realtime", True) is not True:
        raise ProtocolError("bad_config", "a pulled feed is live: 'realtime' must be true (or left out)")
    track = _integer(message, "audio_track", 0, 0, 63)
    listen = message.get("listen", False)
    if not isinstance(listen, bool):
        raise ProtocolError("bad_config", f"'listen' must be true or false, got {listen!r:.20}")
    reconnect_for = _seconds(message, "reconnect_for", 0, 3600)
    try:
        feed = FeedConfig(url, audio_track=track, listen=listen,
                          connect_timeout_s=_seconds(message, "connect_timeout", 0.5, 600),
                          stall_timeout_s=_seconds(message, "stall_timeout", 0.5, 600),
                          reconnect_for_s=30.0 if reconnect_for is None else reconnect_for)
    except FeedError as error:
        raise ProtocolError("bad_config", close_reason(str(error))) from None
    return StreamConfig(sample_rate=16000, format="s16le", channels=1, feed=feed, **_common_fields(message))


def parse_control(data, limits: Limits = Limits()) -> str:
    """A text message after the config → its type ("end" is the only one), or ProtocolError."""
    message = _json_object(data, limits.max_control_bytes, "a text message", "bad_frame")
    kind = message.get("type")
    if kind != "end":
        raise ProtocolError("bad_frame", f"unknown message type {kind!r:.40} (after the config only audio "
                                         f"frames and {{\"type\": \"end\"}} are sent)")
    return kind


def decode_audio(data, config: StreamConfig, limits: Limits = Limits()) -> np.ndarray:
    """A binary audio message → float32 samples shaped (frames, channels), or ProtocolError.

    A message holds whole frames; samples are not checked for NaN/Inf here (the source replaces them with
    silence and counts them, as for every other source)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("bad_frame", "audio must be sent as binary messages")
    size = len(data)
    if size > limits.max_frame_bytes:
        raise ProtocolError("too_large", f"an audio message of {size} bytes is larger than the limit of "
                                         f"{limits.max_frame_bytes} bytes (send shorter frames)")
    if size % config.frame_bytes:
        raise ProtocolError("bad_frame", f"an audio message of {size} bytes is not a whole number of "
                                         f"{config.format} frames of {config.channels} channel(s) "
                                         f"({config.frame_bytes} bytes each)")
    dtype, scale = FORMATS[config.format]
    frames = np.frombuffer(bytes(data), dtype=dtype).reshape(-1, config.channels)
    with np.errstate(invalid="ignore", over="ignore"):
        return frames.astype(np.float32) * np.float32(scale)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """True when no token is required, or `given` equals `expected` (constant time in the content)."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


class TokenBucket:
    """Rate limit: `rate` units a second on average, bursts of up to `burst` units."""

    def __init__(self, rate: float, burst: float, clock=time.monotonic):
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be > 0")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._level = burst
        self._last = clock()

    def take(self, amount: float = 1.0) -> bool:
        """Spend `amount`; False (nothing spent) when the bucket does not hold that much."""
        now = self.clock()
        self._level = min(self.burst, self._level + (now - self._last) * self.rate)
        self._last = now
        if amount > self._level:
            return False
        self._level -= amount
        return True


class RateLimiter:
    """The per-stream message and byte buckets of `limits`."""

    def __init__(self, limits: Limits = Limits(), clock=time.monotonic):
        self.messages = TokenBucket(limits.messages_per_s, limits.message_burst, clock)
        self.bytes = TokenBucket(limits.bytes_per_s, limits.byte_burst, clock)
        self.limits = limits

    def check(self, size: int) -> None:
        """A message of `size` bytes arrived: ProtocolError("rate_limited") when over either limit."""
        if not self.messages.take(1):
            raise ProtocolError("rate_limited", f"more than {self.limits.messages_per_s:.0f} messages a second "
                                                f"(send fewer, longer audio frames)")
        if size and not self.bytes.take(size):
            raise ProtocolError("rate_limited", f"more than {self.limits.bytes_per_s / 1e6:.1f} MB a second of audio")


# -- events the server sends -------------------------------------------------------------------------------
def error_event(code: str, reason: str) -> dict:
    return {"type": "error", "code": code, "close_code": CLOSE_CODES[code], "reason": reason}


def caption_event(event, stream: str) -> dict:
    """A rtvoice.asr.streaming.CaptionEvent → its partial/final event."""
    d = event.to_dict()
    kind = d.pop("kind")
    return {"type": kind, "stream": stream, **d}


def close_reason(reason: str) -> str:
    """A WebSocket close reason is at most 123 bytes of UTF-8."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= 123:
        return reason
    return encoded[:120].decode("utf-8", "ignore") + "..."


__all__ = ["PROTOCOL_VERSION", "FORMATS", "OUTPUTS", "CLOSE_CODES", "ProtocolError", "Limits", "StreamConfig",
           "parse_config", "parse_control", "decode_audio", "tokens_match", "TokenBucket", "RateLimiter",
           "error_event", "caption_event", "close_reason"]
