"""``rtvoice serve``: many caption streams over WebSockets from one process and one loaded model.

The web stack is FastAPI on uvicorn (an ASGI app, so the same app can later be a Ray Serve ingress):

- ``/v1/stream`` (and ``/``): a WebSocket per stream, protocol in docs/server-protocol.md;
- ``GET /healthz``: JSON, the server is up and how full it is;
- ``GET /metrics``: Prometheus text (rtvoice.server.metrics);
- ``GET /overlay?stream=ID`` and its feed ``/v1/captions?stream=ID``: captions for OBS (rtvoice.server.overlay).

A stream is refused at once when ``max_streams`` are running ("busy"); every stream has its own pipeline
thread (rtvoice.server.session), and all of them share one :class:`SharedRecognizer`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import socket
import sys
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from rtvoice.asr.streaming import StreamingConfig
from rtvoice.errors import FeedError, RtvoiceError
from rtvoice.pipeline.engine import PipelineConfig
from rtvoice.server.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from rtvoice.server.overlay import OverlayError, OverlayHub, OverlayStyle, overlay_page
from rtvoice.server.policy import SERVER_STREAMING
from rtvoice.server.protocol import PROTOCOL_VERSION, Limits, ProtocolError, close_reason, parse_config, \
    tokens_match
from rtvoice.server.session import OutboxLimits, StreamSession
from rtvoice.server.shared_model import SharedRecognizer


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1); a host name other than localhost is
    not taken for loopback (it may resolve anywhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Binding anywhere but loopback requires a token (RtvoiceError otherwise)."""
    if not is_loopback(host) and not token:
        raise RtvoiceError(f"--host {host} is reachable from other machines: give --token SECRET "
                           f"(clients send it in their config or an 'Authorization: Bearer' header)")


@dataclass(frozen=True)
class ServerSettings:
    """How the server runs.

    host, port: where it listens (port 0: any free port).
    max_streams: streams recognised at once; one more is refused with "busy".
    token: shared secret clients must send (required off loopback, see check_bind).
    out_dir: per-stream caption files (<stream>.srt, .vtt, .jsonl), flushed at each final; None: none.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    max_streams: int = 4
    token: str | None = field(default=None, repr=False)
    out_dir: Path | None = None
    limits: Limits = Limits()
    outbox: OutboxLimits = OutboxLimits()
    streaming: StreamingConfig = field(default_factory=lambda: SERVER_STREAMING)
    pipeline: PipelineConfig = PipelineConfig()
    frontend: object = None  # rtvoice.frontend.front_end.FrontEndConfig; None: the defaults with a burst-sized input ring
    burst_s: float = 16.0  # live streams: audio a client may send ahead in one burst (after a network stall)
    max_line_chars: int = 42
    max_lines: int = 2
    voice: bool = False  # load the default Piper voice: streams may ask for their finals spoken back
    voice_lag_s: float = 2.0  # a live stream's voice this far behind its speaker is announced (voice_lag)
    name: str = ""  # this server's name in ready events and /healthz (a Ray Serve replica's id)
    batching: bool = True  # decodes due together from several streams run as one batch (shared_model)
    max_batch: int = 8
    pull: bool = True  # a client may ask the server to pull a feed URL (config "url"); False: refused
    feeds: tuple = ()  # (name, url) pairs: feeds the server pulls from its start (--feed NAME=URL), see start_feeds

    def __post_init__(self):
        if not 1 <= self.max_streams <= 256:
            raise ValueError(f"max_streams must be within 1..256, got {self.max_streams}")
        if not 1 <= self.burst_s <= 120:
            raise ValueError(f"burst_s must be within 1..120 s, got {self.burst_s}")
        if not self.voice_lag_s > 0:
            raise ValueError(f"voice_lag_s must be > 0 s, got {self.voice_lag_s}")
        if not 1 <= self.max_batch <= 64:
            raise ValueError(f"max_batch must be within 1..64, got {self.max_batch}")
        if len(self.feeds) > self.max_streams:
            raise ValueError(f"{len(self.feeds)} --feed streams are more than --max-streams {self.max_streams}")
        if len({name for name, _ in self.feeds}) < len(self.feeds):
            raise ValueError("two --feed streams have the same name")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, got {self.port}")
        if self.token is not None and not 1 <= len(self.token) <= 256:
            raise ValueError("the token must be 1 to 256 characters")
        check_bind(self.host, self.token)
        if self.out_dir is not None:
            object.__setattr__(self, "out_dir", Path(self.out_dir))


class CaptionServer:
    """The streams, the shared model and the metrics of one server (the ASGI app is :meth:`app`)."""

    protocol_version = PROTOCOL_VERSION

    def __init__(self, recognizer, settings: ServerSettings = ServerSettings()):
        self.settings = settings
        self.metrics = ServerMetrics()
        self.metrics.max_streams.set(settings.max_streams)
        self.recognizer = SharedRecognizer(recognizer, self.metrics, batching=settings.batching,
                                           max_batch=settings.max_batch)
        self.sessions: dict[str, StreamSession] = {}
        self.hub = OverlayHub()  # the overlay pages' viewers of each stream
        # A network feed arrives in bursts (TCP holds audio back during a stall, then delivers it at once): the
        # front end's input ring takes a burst of burst_s; beyond that, audio is dropped and counted.
        from rtvoice.frontend.front_end import FrontEndConfig

        self.frontend_config = settings.frontend or FrontEndConfig(input_capacity_s=settings.burst_s)
        self.voice = None  # the loaded voice (settings.voice), shared by the streams' TtsEngines
        if settings.voice:
            from rtvoice.tts import load_voice

            self.voice = load_voice()
        self.feed_configs()  # a bad --feed is one error before the server starts
        if settings.feeds:
            import shutil

            if shutil.which("ffmpeg") is None:
                raise FeedError("--feed streams are read through FFmpeg, which is not installed "
                                "(apt-get install ffmpeg, or make setup)")
        self._feed_tasks: list[asyncio.Task] = []
        self._slots = 0  # streams admitted (config being read, or running)
        self._numbers = itertools.count(1)
        if settings.out_dir is not None:
            try:
                settings.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise RtvoiceError(f"cannot create --out {settings.out_dir}: {error.strerror or error}") from error

    # -- caption files ---------------------------------------------------------------------------------------
    def caption_files(self, stream_id: str) -> list:
        """Writers for a stream's caption files in out_dir; a name in use gets -2, -3, ... (nothing is
        overwritten)."""
        out = self.settings.out_dir
        if out is None:
            return []
        from rtvoice.captions.writers import CaptionLayout, JsonlWriter, SrtWriter, VttWriter

        stem = stream_id
        for n in itertools.count(2):
            if not any((out / f"{stem}{ext}").exists() for ext in (".srt", ".vtt", ".jsonl")):
                break
            stem = f"{stream_id}-{n}"
        layout = CaptionLayout(self.settings.max_line_chars, self.settings.max_lines)
        return [SrtWriter(out / f"{stem}.srt", layout), VttWriter(out / f"{stem}.vtt", layout),
                JsonlWriter(out / f"{stem}.jsonl")]

    # -- one WebSocket ---------------------------------------------------------------------------------------
    async def handle(self, ws) -> None:
        await ws.accept()
        if self._slots >= self.settings.max_streams:
            await self._refuse(ws, ProtocolError("busy", f"the server is full ({self.settings.max_streams} "
                                                         f"streams); try again later"))
            return
        self._slots += 1
        session = None
        try:
            try:
                config = await self._read_config(ws)
            except ProtocolError as error:
                await self._refuse(ws, error)
                return
            if config is None:  # gone before saying anything
                self.metrics.streams.labels("disconnected").inc()
                return
            if config.feed is not None and not self.settings.pull:
                await self._refuse(ws, ProtocolError("bad_config", "this server does not pull feeds (started with "
                                                                   "--no-pull): send the audio instead"))
                return
            if config.voice and self.voice is None:
                await self._refuse(ws, ProtocolError("bad_config", "this server has no voice (start it with --voice)"))
                return
            stream_id = config.stream or f"s{next(self._numbers)}"
            if stream_id in self.sessions:
                await self._refuse(ws, ProtocolError("stream_in_use", f"stream {stream_id!r} is already running"))
                return
            try:
                session = StreamSession(stream_id, config, self, asyncio.get_running_loop())
            except FeedError as error:  # no FFmpeg here
                await self._refuse(ws, ProtocolError("feed_unavailable", close_reason(str(error))))
                return
            except (RtvoiceError, ValueError, OSError) as error:
                await self._refuse(ws, ProtocolError("internal", close_reason(str(error))))
                return
            self.sessions[stream_id] = session
            self.metrics.active_streams.inc()
            outcome = await session.serve(ws)
            self.metrics.streams.labels(outcome).inc()
            self._count_losses(session.stats or {})
        finally:
            self._slots -= 1
            if session is not None and self.sessions.get(session.id) is session:
                del self.sessions[session.id]
                self.metrics.active_streams.dec()
                self.metrics.stream_ended(session.id)

    async def _read_config(self, ws):
        limits = self.settings.limits
        try:
            message = await asyncio.wait_for(ws.receive(), limits.config_timeout_s)
        except asyncio.TimeoutError:
            raise ProtocolError("stalled", f"no config message within {limits.config_timeout_s:g} s") from None
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        config = parse_config(data, limits)
        token = config.token or _bearer(ws.headers.get("authorization"))
        if not tokens_match(token, self.settings.token):
            raise ProtocolError("unauthorized", "a valid token is required (config 'token' or an "
                                                "'Authorization: Bearer' header)")
        return config

    async def _refuse(self, ws, error: ProtocolError) -> None:
        self.metrics.streams.labels(error.code).inc()
        try:
            await ws.send_json(error.event())
            await ws.close(code=error.close_code, reason=close_reason(error.reason))
        except Exception:  # already gone
            pass

    def _count_losses(self, stats: dict) -> None:
        source, fe = stats.get("source", {}), stats.get("frontend", {})
        dropped = source.get("dropped", 0) + fe.get("audio_dropped_samples", 0)
        if dropped:
            self.metrics.dropped_samples.inc(dropped)
        skipped = stats.get("asr", {}).get("skipped_partials", 0)
        if skipped:
            self.metrics.skipped_partials.inc(skipped)

    # -- feeds started with the server (--feed NAME=URL) ------------------------------------------------------
    def feed_configs(self) -> list:
        return feed_stream_configs(self.settings.feeds)

    def start_feeds(self) -> None:
        """Start the --feed streams (in the running event loop); each holds a slot until the server stops."""
        loop = asyncio.get_running_loop()
        for config in self.feed_configs():
            session = StreamSession(config.stream, config, self, loop)
            self._slots += 1
            self.sessions[config.stream] = session
            self.metrics.active_streams.inc()
            self._feed_tasks.append(loop.create_task(self._serve_feed(session)))

    async def _serve_feed(self, session: StreamSession) -> None:
        try:
            outcome = await session.serve(_Unattended())
            self.metrics.streams.labels(outcome).inc()
            self._count_losses(session.stats or {})
            if outcome != "completed":
                print(f"rtvoice serve: stream {session.id}: ended ({outcome}: {session.pipeline_error})",
                      file=sys.stderr, flush=True)
        finally:
            self._slots -= 1
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
                self.metrics.active_streams.dec()
                self.metrics.stream_ended(session.id)

    def health(self) -> dict:
        return {"status": "ok", "protocol": PROTOCOL_VERSION, "active_streams": len(self.sessions),
                "max_streams": self.settings.max_streams, "model": self.recognizer.describe(),
                "batching": self.settings.batching, "server": self.settings.name}

    def stop_all(self) -> None:
        """Shutting down: every stream's input ends; their pipelines finish what they have."""
        for session in list(self.sessions.values()):
            session.source.end()

    # -- the ASGI app ----------------------------------------------------------------------------------------
    def app(self):
        @asynccontextmanager
        async def lifespan(app):
            self.start_feeds()
            yield
            self.stop_all()
            # uvicorn waited for the WebSocket streams; the --feed streams finish their captions here (their
            # pipelines' native threads must end before the process does)
            if self._feed_tasks:
                await asyncio.wait(self._feed_tasks, timeout=30)

        app = FastAPI(title="rtvoice", version=str(PROTOCOL_VERSION), lifespan=lifespan, docs_url=None,
                      redoc_url=None, openapi_url=None)

        @app.websocket("/v1/stream")
        async def stream(ws: WebSocket):
            await self.handle(ws)

        @app.websocket("/")
        async def stream_root(ws: WebSocket):
            await self.handle(ws)

        @app.websocket("/v1/captions")
        async def captions(ws: WebSocket):
            await self.hub.serve_viewer(ws, self.settings.token)

        @app.get("/overlay")
        async def overlay(request: Request):
            query = dict(request.query_params)
            if not tokens_match(query.get("token"), self.settings.token):
                return PlainTextResponse("a valid ?token= is required\n", status_code=401)
            try:
                style = OverlayStyle.from_query(query)
            except OverlayError as error:
                return PlainTextResponse(f"{error}\n", status_code=400)
            return HTMLResponse(overlay_page(style, query.get("token")),
                                headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                         "default-src 'none'; style-src 'unsafe-inline'; "
                                         "script-src 'unsafe-inline'; connect-src 'self' ws: wss:"})

        @app.get("/healthz")
        async def healthz():
            return JSONResponse(self.health())

        @app.get("/metrics")
        async def metrics():
            return Response(self.metrics.text(), media_type=CONTENT_TYPE_LATEST)

        return app


def feed_stream_configs(feeds) -> list:
    """The --feed streams' StreamConfigs, from (name, url) pairs: pulled until the server stops (connecting and
    reconnecting with back-off for ever); nobody is sent their events: viewers (/v1/captions, the overlay) and
    the caption files get the captions. RtvoiceError for a bad name or URL (checked as a config's "url")."""
    import json

    configs = []
    for name, url in feeds:
        message = json.dumps({"type": "config", "protocol": PROTOCOL_VERSION, "url": url, "stream": name})
        try:
            config = parse_config(message, Limits(max_config_bytes=8192))
        except ProtocolError as error:
            raise RtvoiceError(f"--feed {name}=…: {error.reason}") from None
        feed = dataclasses.replace(config.feed, connect_timeout_s=float("inf"), reconnect_for_s=float("inf"))
        configs.append(dataclasses.replace(config, feed=feed, outputs=()))
    return configs


class _Unattended:
    """The socket of a --feed stream: nobody reads its events and it never says anything; the stream ends with
    its feed (the server stopping)."""

    async def receive(self) -> dict:
        await asyncio.Event().wait()  # cancelled when the stream ends
        return {"type": "websocket.disconnect"}

    async def send_json(self, message) -> None:
        pass

    async def send_bytes(self, data) -> None:
        pass

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0: any free port); RtvoiceError when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as error:
        sock.close()
        raise RtvoiceError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class RunningServer:
    """uvicorn serving a CaptionServer on a socket, in a thread of its own (tests, benchmarks, embedding).

    ``url`` is the stream endpoint once :meth:`start` has returned; :meth:`stop` shuts it down."""

    def __init__(self, server: CaptionServer, log_level: str = "warning"):
        import uvicorn

        self.server = server
        settings = server.settings
        self.sock = bind_socket(settings.host, settings.port)
        self.port = self.sock.getsockname()[1]
        host = settings.host if ":" not in settings.host else f"[{settings.host.strip('[]')}]"
        self.base = f"{host}:{self.port}"
        self.url = f"ws://{self.base}/v1/stream"
        self.http = f"http://{self.base}"
        config = uvicorn.Config(server.app(), log_level=log_level, lifespan="on",
                                ws_max_size=uvicorn_message_limit(settings.limits), ws_ping_interval=None)
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self.sock]},
                                        name="rtvoice-serve", daemon=True)

    def start(self, timeout: float = 20.0) -> "RunningServer":
        self._thread.start()
        import time

        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RtvoiceError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        self.sock.close()


def uvicorn_message_limit(limits: Limits) -> int:
    """uvicorn's own cap on a WebSocket message: well above ours, so a frame a little too large gets our
    clear "too_large" error, and one far too large is cut off (close code 1009) before it is buffered."""
    return max(limits.max_frame_bytes, limits.max_config_bytes) * 4


__all__ = ["CaptionServer", "ServerSettings", "RunningServer", "check_bind", "is_loopback", "bind_socket",
           "feed_stream_configs"]
