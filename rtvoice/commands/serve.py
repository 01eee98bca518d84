"""``rtvoice serve``: a caption server for many live streams over WebSockets (docs/server.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve live captions to many streams over WebSockets",
        description="One process, one loaded Whisper model, a streaming caption pipeline per WebSocket "
                    "(protocol: docs/server-protocol.md). GET /healthz and /metrics (Prometheus).")
    net = p.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (anything but loopback needs --token)")
    net.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port, printed at start)")
    net.add_argument("--max-streams", type=int, default=4, metavar="N",
                     help="streams recognised at once; one more is refused at once with 'busy'")
    net.add_argument("--token", default=None, metavar="T",
                     help="shared secret clients must send (config 'token' or 'Authorization: Bearer T')")
    net.add_argument("--max-frame-bytes", type=int, default=256 * 1024, metavar="B",
                     help="largest audio message accepted (bytes)")
    net.add_argument("--stall-timeout", type=float, default=10.0, metavar="S",
                     help="close a stream that sends nothing for this long (s)")
    net.add_argument("--no-pull", action="store_true",
                     help="refuse streams that ask the server to pull a feed URL itself (config 'url': srt://, "
                          "rtmp://, rtsp://, http(s)://….m3u8, udp://; read through FFmpeg here, see docs/server.md)")
    net.add_argument("--feed", action="append", default=[], metavar="NAME=URL", type=feed_argument,
                     help="pull this feed from the start, as stream NAME, until the server stops (reconnecting for "
                          "ever); its captions go to --out DIR/NAME.* and the overlay (?stream=NAME); repeatable; "
                          "each takes one of --max-streams")
    net.add_argument("--ray", metavar="ADDRESS",
                     help="run as a Ray Serve application on the Ray cluster at ADDRESS (auto: the running one; "
                          "local: start one here); --host/--port are then the Serve proxy's")
    net.add_argument("--replicas", type=int, default=2, metavar="N",
                     help="with --ray: rtvoice servers (each with its model and --max-streams streams)")
    net.add_argument("--voice", action="store_true",
                     help="load the default voice: streams may ask for their finals spoken back (config 'voice')")
    net.add_argument("--voice-lag-warning", type=float, default=2.0, metavar="S",
                     help="send a live stream a voice_lag event when its voice runs more than S seconds behind "
                          "the speaker, and again when it has caught up (default 2)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="write each stream's captions to DIR/<stream>.srt, .vtt and .jsonl (flushed at each final)")
    asr = p.add_argument_group("recognition")
    asr.add_argument("--asr-model", type=Path, metavar="DIR",
                     help="a CTranslate2 Whisper model directory (default: packaged tiny.en)")
    asr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    asr.add_argument("--compute-type", default=None, help="CTranslate2 compute type (int8 on CPU, float16 on CUDA)")
    asr.add_argument("--threads", type=int, default=0, help="CPU threads per decode (0: CTranslate2 default)")
    asr.add_argument("--no-batching", action="store_true",
                     help="decode one stream at a time (default: decodes due together run as one batch)")
    asr.add_argument("--partial-interval", type=float, default=0.3, metavar="S",
                     help="decode a growing segment again after this much new audio (s)")
    from rtvoice.asr.streaming import CONTEXTS
    from rtvoice.server.policy import SERVER_STREAMING

    asr.add_argument("--agreement", type=int, default=SERVER_STREAMING.agreement, metavar="N",
                     help="commit words once N consecutive partial hypotheses agree on them "
                          f"(default: {SERVER_STREAMING.agreement}; many streams share the cores, see docs/server.md)")
    asr.add_argument("--context", choices=CONTEXTS, default=SERVER_STREAMING.context,
                     help="what each segment's decode gets from the speech before it (docs/asr.md; default: "
                          f"{SERVER_STREAMING.context}: context makes every decode longer)")
    p.set_defaults(func=run)


def feed_argument(value: str) -> tuple[str, str]:
    """--feed NAME=URL → (name, url); the URL itself is checked as a config's "url" is."""
    name, sep, url = value.partition("=")
    if not sep or not name or "://" in name:
        raise argparse.ArgumentTypeError(f"expected NAME=URL (a stream name, then the feed), got {value!r}")
    return name, url


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from rtvoice.asr import WhisperConfig, WhisperRecognizer
    from rtvoice.errors import RtvoiceError
    from rtvoice.server.app import CaptionServer, ServerSettings, bind_socket, feed_stream_configs, \
        uvicorn_message_limit
    from rtvoice.server.policy import SERVER_STREAMING
    from rtvoice.server.protocol import Limits

    try:
        limits = Limits(max_frame_bytes=args.max_frame_bytes, stall_timeout_s=args.stall_timeout)
        settings = ServerSettings(host=args.host, port=args.port, max_streams=args.max_streams, token=args.token,
                                  out_dir=args.out, limits=limits,
                                  streaming=dataclasses.replace(
                                      SERVER_STREAMING, partial_interval_s=args.partial_interval,
                                      agreement=args.agreement, context=args.context),
                                  batching=not args.no_batching, voice=args.voice, pull=not args.no_pull,
                                  feeds=tuple(args.feed),
                                  voice_lag_s=args.voice_lag_warning)
        # One copy of the model: batched decoder steps are large enough to gain from --threads.
        whisper = WhisperConfig(model_dir=args.asr_model, device=args.device, compute_type=args.compute_type,
                                threads=args.threads, decoder_threads=None)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    feed_stream_configs(settings.feeds)  # a bad --feed is one line before the model loads
    if args.ray:
        if args.feed:
            raise RtvoiceError("--feed is not available with --ray yet")
        return _run_on_ray(args, settings)
    recognizer = WhisperRecognizer(whisper)
    server = CaptionServer(recognizer, settings)
    sock = bind_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"rtvoice serve: {recognizer.describe()}; up to {settings.max_streams} streams"
          f"{'' if settings.batching else ', no batching'}{', voice on' if server.voice is not None else ''}; "
          f"ws://{shown}:{port}/v1/stream, http://{shown}:{port}/metrics"
          + (f"; captions in {settings.out_dir}" if settings.out_dir else "")
          + "".join(f"; feed {name}" for name, _ in settings.feeds), file=sys.stderr, flush=True)
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="on",
                            ws_max_size=uvicorn_message_limit(limits), ws_ping_interval=20.0)
    _uvicorn_server(config).run(sockets=[sock])
    print("rtvoice serve: stopped", file=sys.stderr)
    return 0


def _uvicorn_server(config):
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, stopped by SIGINT/SIGTERM without re-raising the signal afterwards (the streams have
        been closed and their caption files finished by then; a second signal stops at once)."""

        @contextlib.contextmanager
        def capture_signals(self):
            def stop(signum, frame):
                if self.should_exit:
                    self.force_exit = True
                self.should_exit = True
                print(f"\nrtvoice serve: {signal.Signals(signum).name}, closing the streams", file=sys.stderr)

            previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    return Server(config)


def _run_on_ray(args, settings) -> int:
    """Deploy on Ray Serve (rtvoice.server.ray_app) and stay until Ctrl-C, which deletes the application."""
    import time

    from rtvoice.errors import RtvoiceError

    try:
        from ray import serve

        from rtvoice.server import ray_app
    except ImportError as error:
        raise RtvoiceError(f"--ray needs the ray[serve] package ({error})") from error
    if args.replicas < 1:
        raise RtvoiceError("--replicas must be >= 1")
    ray_app.run(args.ray, settings.host, settings.port, replicas=args.replicas, max_streams=settings.max_streams,
                batching=settings.batching, model_dir=str(args.asr_model) if args.asr_model else None,
                device=args.device, threads=args.threads, token=settings.token,
                out_dir=str(settings.out_dir) if settings.out_dir else None)
    print(f"rtvoice serve: on Ray Serve ({args.ray}), {args.replicas} replicas of {settings.max_streams} streams; "
          f"ws://{settings.host}:{settings.port}/v1/stream", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        serve.delete(ray_app.DEPLOYMENT)
    return 0
