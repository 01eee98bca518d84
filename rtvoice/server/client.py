"""A small client for ``rtvoice serve`` (protocol v1, docs/server-protocol.md).

    with StreamClient("ws://127.0.0.1:8765", sample_rate=16000, fmt="f32le") as client:
        client.send_audio(samples)          # float32 / int16 numpy array, or raw bytes in the declared format
        client.end()
        for event in client.events():       # dicts: partial, final, lag, stats (an error raises ServerError)
            ...

Events are received by a thread of the client's own, so sending never waits on reading; ``events()``
yields them in order until the server closes the stream.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from urllib.parse import urlsplit

import numpy as np

from rtvoice.errors import RtvoiceError
from rtvoice.server.protocol import FORMATS, PROTOCOL_VERSION

DEFAULT_PATH = "/v1/stream"


class ServerError(RtvoiceError):
    """The server refused or ended the stream: `code` (busy, bad_config, ...), `reason`, `close_code`."""

    def __init__(self, code: str, reason: str, close_code: int | None = None):
        super().__init__(f"server: {code}: {reason}")
        self.code, self.reason, self.close_code = code, reason, close_code


_CLOSE_NAMES = {1001: "going away", 1011: "server error", 1012: "server restarting", 1013: "try again later"}


class ConnectionLost(ServerError):
    """The connection went away while sending (the server stopped, a replica died, the network broke)."""


def stream_url(url: str) -> str:
    """ws://HOST:PORT → ws://HOST:PORT/v1/stream (a URL with a path is kept)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise RtvoiceError(f"not a WebSocket URL: {url!r} (expected ws://HOST:PORT)")
    return url if parts.path not in ("", "/") else url.rstrip("/") + DEFAULT_PATH


class StreamClient:
    """One stream to the server.

    Args:
        url: ws://HOST:PORT (the default path /v1/stream is added) or a full stream URL.
        sample_rate, fmt, channels: what send_audio sends (fmt: s16le or f32le).
        realtime: the audio is live (sent as captured); False: a recording sent as fast as the server
            takes it (flow control, nothing dropped).
        stream: a name for the stream (caption files, the overlay); None: the server names it.
        token: the server's token, if it has one (sent in the config message).
        outputs: event kinds wanted (partial, final, lag).
        voice: have each final spoken by the server's voice; events then include "voice", "audio"
            ({"type": "audio", "pcm": bytes}, s16le mono) and "voice_end".
        open_timeout: seconds to connect and get the ready event.
        feed: have the server pull a network feed instead of sending audio: {"url": "srt://…"} plus any of
            "audio_track", "listen", "connect_timeout", "reconnect_for" (docs/server-protocol.md); events then
            include "feed" (connected, lost, back, ended); call end() to stop it.
    """

    def __init__(self, url: str, sample_rate: int = 16000, fmt: str = "f32le", channels: int = 1,
                 realtime: bool = True, stream: str | None = None, token: str | None = None,
                 language: str = "en", outputs=("partial", "final", "lag"), open_timeout: float = 10.0,
                 voice: bool = False, feed: dict | None = None):
        if fmt not in FORMATS:
            raise RtvoiceError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.url = stream_url(url)
        self.config = {"type": "config", "protocol": PROTOCOL_VERSION, "sample_rate": sample_rate, "format": fmt,
                       "channels": channels, "language": language, "outputs": list(outputs),
                       "realtime": realtime}
        if feed is not None:  # the server decodes the feed: the client describes no audio of its own
            for name in ("sample_rate", "format", "channels", "realtime"):
                del self.config[name]
            self.config.update(feed)
        if stream is not None:
            self.config["stream"] = stream
        if voice:
            self.config["voice"] = True
        if token is not None:
            self.config["token"] = token
        self.fmt, self.channels = fmt, channels
        self.open_timeout = open_timeout
        self.ready: dict | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._ws = None
        self._events: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None

    # -- connection ------------------------------------------------------------------------------------------
    def connect(self) -> dict:
        """Open the socket, send the config, wait for the ready event (returned); ServerError if refused."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        try:
            self._ws = connect(self.url, open_timeout=self.open_timeout, max_size=2 ** 22, compression=None,
                               legacy=True)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            raise RtvoiceError(f"cannot connect to {self.url}: {error}") from error
        self._reader = threading.Thread(target=self._read, name="rtvoice-stream-client", daemon=True)
        self._reader.start()
        try:
            self._ws.send(json.dumps(self.config))
        except ConnectionClosed:  # refused before the config was read (busy): the reason is in the events
            pass
        try:
            first = self._events.get(timeout=self.open_timeout)
        except queue.Empty:
            self.close()
            raise RtvoiceError(f"{self.url}: no ready event within {self.open_timeout:g} s") from None
        self._raise_if_error(first)
        if first is None or first.get("type") != "ready":
            raise ServerError("closed", self.close_reason or "the server closed the stream", self.close_code)
        self.ready = first
        return first

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                message = self._ws.recv()
                if isinstance(message, str):
                    self._events.put(json.loads(message))
                else:  # the dubbed voice's samples (s16le, at the rate of the last "voice" event)
                    self._events.put({"type": "audio", "pcm": message})
        except ConnectionClosed as closed:
            frame = closed.rcvd
            self.close_code = frame.code if frame is not None else 1006
            self.close_reason = frame.reason if frame is not None else "connection lost"
        except (OSError, ValueError) as error:
            self.close_code, self.close_reason = 1006, str(error)
        finally:
            self._events.put(None)

    @staticmethod
    def _raise_if_error(event) -> None:
        if event is not None and event.get("type") == "error":
            raise ServerError(event.get("code", "error"), event.get("reason", ""), event.get("close_code"))

    # -- sending ---------------------------------------------------------------------------------------------
    def send_audio(self, audio) -> None:
        """Send samples: raw bytes in the declared format, or a numpy array (float in [-1, 1] or int16),
        shaped (n,) or (n, channels). Blocks while the server's flow control holds the stream back."""
        if isinstance(audio, (bytes, bytearray, memoryview)):
            data = bytes(audio)
        else:
            samples = np.asarray(audio)
            if self.fmt == "f32le":
                if samples.dtype.kind in "iu":
                    samples = samples.astype(np.float32) / 32768.0
                data = samples.astype("<f4").tobytes()
            else:
                if samples.dtype.kind == "f":
                    samples = np.clip(np.round(samples * 32767.0), -32768, 32767)
                data = samples.astype("<i2").tobytes()
        self._send(data)

    def end(self) -> None:
        """No more audio: the server finishes the captions, sends the stats and closes."""
        self._send(json.dumps({"type": "end"}))

    def _send(self, message) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self._ws.send(message)
        except (ConnectionClosed, OSError) as error:
            frame = getattr(error, "rcvd", None)
            code = frame.code if frame is not None else 1006
            reason = (frame.reason if frame is not None else "") or _CLOSE_NAMES.get(code, "connection lost")
            raise ConnectionLost("closed", f"the server closed the stream ({code} {reason})", code) from error

    # -- receiving -------------------------------------------------------------------------------------------
    def events(self, timeout: float | None = None):
        """Yield events (dicts) until the server closes the stream; an error event raises ServerError.
        `timeout`: longest wait for one event (RtvoiceError past it)."""
        while True:
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                raise RtvoiceError(f"no event from the server for {timeout:g} s") from None
            if event is None:
                return
            self._raise_if_error(event)
            yield event

    def poll(self) -> list[dict]:
        """The events received so far and not yet taken (never waits; errors are returned, not raised)."""
        out = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return out
            if event is None:
                self._events.put(None)  # events() still sees the end
                return out
            out.append(event)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.join(5)

    def __enter__(self) -> "StreamClient":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def send_resuming(url: str, audio, realtime: bool = True, max_reconnects: int = 3, chunk: int = 1600,
                  timeout: float = 120.0, on_ready=None, **options) -> dict:
    """Send 16 kHz mono float32 `audio` as one stream that survives the server going away: when the
    connection is lost (a Ray Serve replica dies, a server restarts), connect again (the new connection may
    land on another replica) and resend from the end of the last final received, so only the segment in
    flight is recognised again, never lost. Event times of a resumed connection are shifted to the
    original stream's clock (``resumed_from`` added). `on_ready` is called with each connection's ready
    event. `options` go to StreamClient.

    Returns {"events": all events (ready of each connection, partial/final/lag, the last stats),
    "reconnects": n, "losses": [{"close_code", "reason", "at_s"}], "servers": [each connection's server]}.
    """
    audio = np.asarray(audio, dtype=np.float32)
    events, losses, servers = [], [], []
    resume_at = 0  # samples: the end of the last final received
    started = time.monotonic()
    for attempt in range(max_reconnects + 1):
        offset = resume_at / 16000
        try:
            client = StreamClient(url, sample_rate=16000, fmt="f32le", realtime=realtime, **options)
            ready = client.connect()
        except (ServerError, RtvoiceError):
            if attempt == max_reconnects:
                raise
            time.sleep(0.5)
            continue
        servers.append(ready.get("server", ""))
        events.append({**ready, "resumed_from": offset})
        if on_ready is not None:
            on_ready(ready)

        def take(batch) -> None:
            nonlocal resume_at
            for event in batch:
                if event is None:
                    continue
                if event.get("type") in ("partial", "final"):
                    event = shift_event(event, offset)
                    if event["type"] == "final":
                        resume_at = max(resume_at, int(round(event["end"] * 16000)))
                events.append(event)

        lost = False
        try:
            position = resume_at
            while position < len(audio):
                if realtime:
                    delay = started + position / 16000 - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                client.send_audio(audio[position:position + chunk])
                position += chunk
                take(client.poll())
                if client.close_code is not None:
                    lost = True
                    break
            if not lost:
                client.end()
                for event in client.events(timeout=timeout):
                    take([event])
                lost = not events or events[-1].get("type") != "stats"
        except ConnectionLost:
            take(client.poll())
            lost = True
        except ServerError as error:
            losses.append({"close_code": error.close_code, "reason": error.reason, "at_s": resume_at / 16000})
            client.close()
            raise
        client.close()
        if not lost:
            return {"events": events, "reconnects": attempt, "losses": losses, "servers": servers}
        losses.append({"close_code": client.close_code, "reason": client.close_reason, "at_s": resume_at / 16000})
    raise RtvoiceError(f"{url}: the stream was lost {len(losses)} times; giving up")


def shift_event(event: dict, offset_s: float) -> dict:
    """A caption event with its times moved `offset_s` later (a resumed connection's clock starts at 0)."""
    if not offset_s:
        return event
    out = {**event, "start": round(event["start"] + offset_s, 3), "end": round(event["end"] + offset_s, 3)}
    if event.get("words"):
        out["words"] = [{**w, "start": round(w["start"] + offset_s, 3), "end": round(w["end"] + offset_s, 3)}
                        for w in event["words"]]
    return out


def caption_from_event(event: dict):
    """A partial/final event → rtvoice.asr.streaming.CaptionEvent (for the caption writers)."""
    from rtvoice.asr.streaming import CaptionEvent
    from rtvoice.asr.whisper import Word

    words = tuple(Word(" " + w["text"], w["start"], w["end"], w.get("probability", float("nan")))
                  for w in event.get("words", []))
    return CaptionEvent(kind=event["type"], segment=event["segment"], text=event["text"],
                        committed=event.get("committed", ""), unstable=event.get("unstable", ""),
                        start=event["start"], end=event["end"], words=words,
                        committed_words=event.get("committed_words", 0), emitted_at=event.get("emitted_at", 0.0),
                        latency=event.get("latency"), forced=event.get("forced", False))


__all__ = ["StreamClient", "ServerError", "ConnectionLost", "caption_from_event", "stream_url", "send_resuming", "shift_event"]
