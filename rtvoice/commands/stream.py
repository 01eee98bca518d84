"""``rtvoice stream``: send a microphone, a file or raw PCM to ``rtvoice serve`` and show its captions."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stream", help="caption a microphone, a file or raw PCM on a running `rtvoice serve`",
        description="A client for `rtvoice serve` (docs/server-protocol.md): the same inputs as `caption`, the "
                    "captions printed and written locally.")
    p.add_argument("url", help="the server, ws://HOST:PORT (path /v1/stream by default)")
    from rtvoice.commands.caption import add_source_arguments

    add_source_arguments(p, realtime_help="pace a file like a live source, or treat stdin as live; default: a file "
                                          "is sent as fast as the server recognises it (flow control, nothing "
                                          "dropped)")
    net = p.add_argument_group("server")
    net.add_argument("--stream", metavar="NAME", help="the stream's name on the server (caption files, overlay)")
    net.add_argument("--token", metavar="T", help="the server's token")
    net.add_argument("--language", default="en", help="language code for multilingual models")
    net.add_argument("--pull", action="store_true",
                     help="the input is a feed URL the server reads itself (its FFmpeg, its network: --listen "
                          "listens on the server's host); --audio-track, --connect-timeout, --stall-timeout and "
                          "--reconnect-for go with it; default: this client reads the feed and sends its audio")
    out = p.add_argument_group("output")
    out.add_argument("--srt", type=Path, metavar="FILE", help="write SubRip captions")
    out.add_argument("--vtt", type=Path, metavar="FILE", help="write WebVTT captions")
    out.add_argument("--jsonl", type=Path, metavar="FILE", help="write every caption event as JSON Lines")
    out.add_argument("--stats", type=Path, metavar="FILE", help="write the server's stream stats as JSON at the end")
    out.add_argument("--voice-wav", type=Path, metavar="FILE",
                     help="ask for the dubbed voice (a server started with --voice) and write its lines, one after "
                          "the other, to this WAV")
    out.add_argument("--max-line-chars", type=int, default=42, help="caption line length (characters)")
    out.add_argument("--max-lines", type=int, default=2, help="lines per caption cue")
    out.add_argument("--quiet", action="store_true", help="no captions on the terminal")
    out.add_argument("--timestamps", action="store_true", help="prefix plain-text finals with their times")
    p.set_defaults(func=run)


CHUNK = 1600  # 16 kHz samples a message (0.1 s)


def run(args: argparse.Namespace) -> int:
    from rtvoice import RingBuffer
    from rtvoice.captions.writers import CaptionFanout, CaptionLayout, JsonlWriter, SrtWriter, TerminalWriter, VttWriter
    from rtvoice.commands.caption import open_source
    from rtvoice.errors import RtvoiceError
    from rtvoice.server.client import ConnectionLost, StreamClient, caption_from_event

    try:
        layout = CaptionLayout(args.max_line_chars, args.max_lines)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    if args.pull:
        return _run_pulled(args, layout)
    source = open_source(args)
    sinks = []
    try:
        if not args.quiet:
            sinks.append(TerminalWriter(sys.stdout, layout=layout, timestamps=args.timestamps))
        for path, writer in ((args.srt, SrtWriter), (args.vtt, VttWriter)):
            if path is not None:
                sinks.append(writer(path, layout))
        if args.jsonl is not None:
            sinks.append(JsonlWriter(args.jsonl))
        client = StreamClient(args.url, sample_rate=16000, fmt="f32le", realtime=source.live, stream=args.stream,
                              token=args.token, language=args.language, voice=args.voice_wav is not None)
        ready = client.connect()
    except RtvoiceError:
        CaptionFanout(sinks).close()
        source.close()
        raise
    outputs = CaptionFanout(sinks)
    print(f"rtvoice stream: {ready['stream']} on {client.url} ({ready['model']}); {source.describe()}",
          file=sys.stderr)
    stats = None
    voice_file = None

    def take(event) -> None:
        nonlocal stats, voice_file
        kind = event.get("type")
        if kind in ("partial", "final"):
            outputs.write(caption_from_event(event))
        elif kind == "voice" and voice_file is None:
            import soundfile as sf

            voice_file = sf.SoundFile(str(args.voice_wav), "w", samplerate=event["sample_rate"], channels=1,
                                      subtype="PCM_16")
        elif kind == "audio" and voice_file is not None:
            voice_file.write(np.frombuffer(event["pcm"], dtype="<i2"))
        elif kind == "lag":
            print(f"rtvoice stream: server: {event.get('message', '')}", file=sys.stderr)
        elif kind == "stats":
            stats = event

    ring = RingBuffer(16000 * 4)
    try:
        source.start(ring)
        try:
            while True:
                available = ring.available
                if available:
                    client.send_audio(ring.read(min(available, CHUNK)))
                elif source.done:
                    if ring.available == 0:
                        break
                else:
                    time.sleep(0.005)
                for event in client.poll():
                    if event.get("type") == "error":
                        client._raise_if_error(event)
                    take(event)
            client.end()
        except KeyboardInterrupt:
            print("\nrtvoice stream: interrupted, finishing the captions", file=sys.stderr)
            source.stop()
            client.end()
        except ConnectionLost as lost:
            for event in client.poll():  # what arrived before the close is still written
                take(event)
            raise RtvoiceError(f"{lost.reason}; the captions received so far are written") from None
        for event in client.events():
            take(event)
    finally:
        source.stop()
        source.join(5)
        client.close()
        outputs.close()
        if voice_file is not None:
            voice_file.close()
    if source.error is not None:
        raise source.error
    if stats is None:
        raise RtvoiceError(f"the server closed the stream without its stats ({client.close_code} "
                           f"{client.close_reason})")
    latency = stats.get("latency", {})
    if source.live and latency:
        print(f"rtvoice stream: server latency {json.dumps(latency)[:200]}", file=sys.stderr)
    print(f"rtvoice stream: {stats['audio_seconds']:.1f} s of audio in {stats['wall_seconds']:.1f} s "
          f"on the server", file=sys.stderr)
    if args.stats is not None:
        args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    return 0


def _pulled_feed(args) -> dict:
    """--pull: the config fields asking the server to read args.input itself."""
    from rtvoice.audio.network import is_feed_url
    from rtvoice.errors import RtvoiceError

    if args.mic or args.input_device is not None or not is_feed_url(args.input):
        raise RtvoiceError("--pull needs a feed URL as the input (srt://, rtmp://, rtsp://, http(s)://….m3u8, "
                           "udp://): the server reads it")
    # the protocol takes up to an hour (JSON has no infinity): --reconnect-for inf is an hour on the server
    feed = {"url": args.input, "audio_track": args.audio_track, "listen": args.listen,
            "reconnect_for": min(args.reconnect_for, 3600.0)}
    if args.connect_timeout is not None:
        feed["connect_timeout"] = args.connect_timeout
    if args.stall_timeout is not None:
        feed["stall_timeout"] = args.stall_timeout
    return feed


def _run_pulled(args, layout) -> int:
    """`rtvoice stream WS URL --pull`: the server pulls the feed; its captions are shown and written here until
    the feed ends or Ctrl-C (which asks the server to stop the feed and finish the captions)."""
    from rtvoice.captions.writers import CaptionFanout, JsonlWriter, SrtWriter, TerminalWriter, VttWriter
    from rtvoice.errors import RtvoiceError
    from rtvoice.server.client import StreamClient, caption_from_event

    feed = _pulled_feed(args)
    if args.voice_wav is not None:
        raise RtvoiceError("--voice-wav is not available with --pull yet")
    client = StreamClient(args.url, stream=args.stream, token=args.token, language=args.language, feed=feed)
    ready = client.connect()
    sinks = [] if args.quiet else [TerminalWriter(sys.stdout, layout=layout, timestamps=args.timestamps)]
    sinks += [writer(path, layout) for path, writer in ((args.srt, SrtWriter), (args.vtt, VttWriter))
              if path is not None]
    if args.jsonl is not None:
        sinks.append(JsonlWriter(args.jsonl))
    outputs = CaptionFanout(sinks)
    print(f"rtvoice stream: {ready['stream']} on {client.url} ({ready['model']}); the server pulls "
          f"{ready['feed']['url']}", file=sys.stderr)
    stats = None

    def take(event) -> None:
        nonlocal stats
        kind = event.get("type")
        if kind == "error":
            client._raise_if_error(event)
        elif kind in ("partial", "final"):
            outputs.write(caption_from_event(event))
        elif kind == "feed":
            details = ", ".join(f"{k} {v}" for k, v in event.items() if k not in ("type", "stream", "state"))
            print(f"rtvoice stream: server feed {event['state']}{': ' + details if details else ''}",
                  file=sys.stderr)
        elif kind == "lag":
            print(f"rtvoice stream: server: {event.get('message', '')}", file=sys.stderr)
        elif kind == "stats":
            stats = event

    interrupted = False
    try:
        while True:
            try:
                batch = client.poll()
                if not batch:
                    if client.close_code is not None:  # closed, and every event taken
                        break
                    time.sleep(0.05)
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C leaves at once
                    raise
                interrupted = True
                print("\nrtvoice stream: interrupted; the server stops the feed and finishes the captions",
                      file=sys.stderr)
                client.end()
                continue
            for event in batch:
                take(event)
    finally:
        client.close()
        outputs.close()
    if stats is None:
        raise RtvoiceError(f"the server closed the stream without its stats ({client.close_code} "
                           f"{client.close_reason})")
    source = stats["source"]
    print(f"rtvoice stream: {stats['audio_seconds']:.1f} s of audio pulled by the server; "
          f"{source.get('feed_drops', 0)} drops, {source.get('feed_gaps', 0)} gaps "
          f"({source.get('feed_gap_seconds', 0.0):.1f} s)", file=sys.stderr)
    if args.stats is not None:
        args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    return 0
