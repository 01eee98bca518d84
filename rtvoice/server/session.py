"""One stream of the server: a WebSocket feeding a caption pipeline, and the pipeline's events going back.

Threads: the event loop runs the socket (this module's coroutines); the pipeline runs in a thread of its
own (rtvoice.pipeline.engine.CaptionPipeline: front end, recognizer, caption files), and hands its events
to the loop with ``call_soon_threadsafe``. Nothing a stream does blocks the loop, so one stream stalling or
sending garbage is closed alone and the others never notice.

A stream whose config has a "url" is pulled by the server itself: its source is a FeedSource
(rtvoice.audio.network: FFmpeg as a child process, reconnection, gaps filled with silence) instead of the
socket, the client sends nothing but the end message, and the feed's changes (connected, lost, back, ended)
come as "feed" events. The client going away, or saying end, stops FFmpeg.

Outgoing events wait in a queue per stream. A client that reads too slowly first loses partial captions
(counted: ``dropped_events``; finals are never dropped), then, when even finals pile up past
``max_outbox``, is closed ("slow_client"): the server never holds an unbounded backlog for it.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rtvoice.errors import FeedError, RtvoiceError
from rtvoice.server.protocol import ProtocolError, RateLimiter, caption_event, close_reason, decode_audio, \
    parse_control
from rtvoice.server.socket_source import SocketSource


@dataclass(frozen=True)
class OutboxLimits:
    """Events waiting to be sent to one client: partials are dropped past `max_partials` waiting; the
    stream is closed past `max_outbox` waiting."""

    max_partials: int = 16
    max_outbox: int = 1024

    def __post_init__(self):
        if not 1 <= self.max_partials <= self.max_outbox:
            raise ValueError("need 1 <= max_partials <= max_outbox")


class _Forward:
    """Caption listener (pipeline thread) → the stream's outbox (event loop)."""

    def __init__(self, session: "StreamSession"):
        self.session = session

    def write(self, event) -> None:
        session = self.session
        metrics = session.metrics
        metrics.captions.labels(event.kind).inc()
        if event.latency is not None:
            if event.is_final:
                metrics.final_latency.observe(event.latency)
                metrics.stream_final_latency.labels(session.id).observe(event.latency)
            else:
                metrics.partial_latency.observe(event.latency)
        if event.kind in session.config.outputs:
            session.post(caption_event(event, session.id))
        session.publish(event)


class StreamSession:
    """A stream from its ready event to its stats event.

    Args:
        stream_id: the stream's name.
        config: the client's validated StreamConfig.
        server: the CaptionServer (recognizer, settings, metrics, overlay hub).
        loop: the event loop serving the socket.
    """

    def __init__(self, stream_id: str, config, server, loop: asyncio.AbstractEventLoop):
        from rtvoice.pipeline.engine import CaptionPipeline

        self.id = stream_id
        self.config = config
        self.server = server
        self.metrics = server.metrics
        self.loop = loop
        settings = server.settings
        self.feed = config.feed
        if self.feed is not None:
            from rtvoice.audio.network import FeedSource

            self.source = FeedSource(self.feed, announce=self._feed_line, on_change=self._feed_changed)
        else:
            self.source = SocketSource(config.sample_rate, config.channels, live=config.realtime,
                                       max_queued_s=settings.burst_s if config.realtime else 2.0, name=stream_id)
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.dropped_events = 0
        self.slow = False
        self.closed = False
        self.sinks = server.caption_files(stream_id)
        self.stage = None  # the dubbed voice, when asked for (rtvoice.server.voice)
        extra = []
        if config.voice:
            from rtvoice.server.voice import voice_stage

            self.stage = voice_stage(server.voice, self, settings.voice_lag_s)
            extra = self.stage.attach(self.source)
        self.pipeline = CaptionPipeline(self.source, server.recognizer, [*self.sinks, _Forward(self), *extra],
                                        settings.streaming, server.frontend_config, settings.pipeline,
                                        status=self._status)
        self.done: asyncio.Future = loop.create_future()
        self.stats: dict | None = None
        self.pipeline_error: str | None = None  # set when the pipeline thread failed
        self.error_code = "internal"  # the pipeline_error's code ("feed_unavailable": a feed that never started)
        self.outcome = "completed"
        self._thread = threading.Thread(target=self._run, name=f"rtvoice-stream-{stream_id}", daemon=True)

    # -- pipeline thread -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        stats, error = None, None
        try:
            if self.feed is not None:
                self.source.connect()  # the first audio, or FeedError (FFmpeg is then ended)
            stats = self.pipeline.run()
        except FeedError as failure:
            error, self.error_code = str(failure), "feed_unavailable"
            stats = self.pipeline.stats()
        except RtvoiceError as failure:
            error = str(failure)
            stats = self.pipeline.stats()
        except Exception as failure:  # the stream ends with a reason, the server goes on
            error = f"{type(failure).__name__}: {failure}"
            stats = self.pipeline.stats()
        finally:
            for sink in self.sinks:
                try:
                    sink.close()
                except (OSError, RtvoiceError) as failure:
                    error = error or f"caption files: {failure}"
            if self.stage is not None:  # every line spoken and sent before the stats
                try:
                    self.stage.finish(interrupted=self.closed)
                    stats.update(self.stage.stats())
                except Exception as failure:  # the captions are done; the voice's failure is reported
                    error = error or f"voice: {type(failure).__name__}: {failure}"
        if self.feed is not None:
            self.metrics.audio_seconds.inc(stats.get("audio_seconds", 0.0))
        stats["server"] = {"dropped_events": self.dropped_events,
                           "queue_dropped": getattr(self.source, "queue_dropped", 0),
                           "caption_files": [str(getattr(s, "path", "")) for s in self.sinks]}
        self.loop.call_soon_threadsafe(self._finished, stats, error)

    def _status(self, line: str) -> None:
        if "lag" in self.config.outputs:
            lag = self.pipeline.lag
            self.post({"type": "lag", "stream": self.id, "behind": lag.behind, "lag_s": round(lag.last_s, 3),
                       "message": line})

    def _feed_line(self, line: str) -> None:
        """A pulled feed's messages (connecting, lost, back): on the server's standard error, for its operator."""
        print(f"rtvoice serve: stream {self.id}: {line}", file=sys.stderr, flush=True)

    def _feed_changed(self, state: str, details: dict) -> None:
        self.post({"type": "feed", "stream": self.id, "state": state, **details})

    def post(self, message) -> None:
        """Queue an event (dict) or voice audio (bytes) for the client (any thread)."""
        self.loop.call_soon_threadsafe(self._put, message)

    def publish(self, event) -> None:
        """Hand a caption to the overlay's viewers of this stream (any thread)."""
        hub = self.server.hub
        if hub is not None:
            self.loop.call_soon_threadsafe(hub.publish, self.id, event)

    # -- event loop ------------------------------------------------------------------------------------------
    def _put(self, message: dict) -> None:
        if self.closed:
            return
        waiting = self.outbox.qsize()
        if (isinstance(message, dict) and message.get("type") == "partial"
                and waiting >= self.server.settings.outbox.max_partials):
            self.dropped_events += 1
            self.metrics.dropped_events.inc()
            return
        if waiting >= self.server.settings.outbox.max_outbox:
            self.slow = True
            return
        self.outbox.put_nowait(message)

    def _finished(self, stats: dict, error: str | None) -> None:
        self.stats = stats
        self.pipeline_error = error
        if not self.done.done():
            self.done.set_result(stats)

    async def _send_loop(self, ws) -> None:
        """Send queued events until a None arrives (or the socket is gone)."""
        while True:
            message = await self.outbox.get()
            if message is None:
                return
            if self.closed:
                continue
            try:
                if isinstance(message, bytes):  # the dubbed voice's audio
                    await ws.send_bytes(message)
                else:
                    await ws.send_json(message)
            except Exception:  # the client went away: the rest is only written to the files
                self.closed = True

    async def _watch_lag(self) -> None:
        gauge = self.metrics.lag.labels(self.id)
        while True:
            gauge.set(self.pipeline.lag.last_s)
            await asyncio.sleep(0.5)

    async def serve(self, ws) -> str:
        """Run the stream to its end; returns its outcome (completed, disconnected, or an error code)."""
        limits = self.server.settings.limits
        limiter = RateLimiter(limits)
        sender = asyncio.create_task(self._send_loop(ws))
        watcher = asyncio.create_task(self._watch_lag())
        failure: ProtocolError | None = None
        try:
            self.start()
            ready = {"type": "ready", "protocol": self.server.protocol_version, "stream": self.id,
                     "server": self.server.settings.name,
                     "model": self.server.recognizer.describe(), "sample_rate": self.config.sample_rate,
                     "format": self.config.format, "channels": self.config.channels,
                     "realtime": self.config.realtime, "outputs": list(self.config.outputs),
                     "limits": {"max_frame_bytes": limits.max_frame_bytes,
                                "stall_timeout_s": limits.stall_timeout_s}}
            if self.feed is not None:
                ready["feed"] = {"url": self.feed.redacted_url, "audio_track": self.feed.audio_track,
                                 "listen": self.feed.listening}
            self._put(ready)
            try:
                if self.feed is not None:
                    await self._watch_client(ws, limiter, limits)
                else:
                    await self._receive(ws, limiter, limits)
            except ProtocolError as error:
                failure = error
                self.outcome = error.code
            self.source.end()
            await self.done
            if failure is None and self.pipeline_error is not None and not self.closed:
                # the pipeline (or the feed) failed: this stream alone
                failure = ProtocolError(self.error_code, close_reason(self.pipeline_error))
                self.outcome = failure.code
            if failure is not None:
                self._put(failure.event())
            elif self.slow:
                failure = ProtocolError("slow_client", "the client did not read its events")
                self.outcome = failure.code
            elif self.outcome == "completed" and not self.closed:
                self._put({"type": "stats", "stream": self.id, **self.stats})
            self.outbox.put_nowait(None)
            await sender
        finally:
            watcher.cancel()
            if not sender.done():
                sender.cancel()
            self.source.end()
        if not self.closed:
            try:
                if failure is not None:
                    await ws.close(code=failure.close_code, reason=close_reason(failure.reason))
                else:
                    await ws.close(code=1000, reason="end of stream")
            except Exception:
                pass
        self.closed = True
        return self.outcome

    async def _watch_client(self, ws, limiter: RateLimiter, limits) -> None:
        """A pulled feed: the client sends nothing but the end message. Return when it does, when it goes away,
        or when the feed has ended (or never started); no stall timeout (the WebSocket pings find a dead client)."""
        receive = asyncio.ensure_future(ws.receive())
        await asyncio.wait({receive, self.done}, return_when=asyncio.FIRST_COMPLETED)
        if not receive.done():
            receive.cancel()
            return
        message = receive.result()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            self.outcome = "disconnected"
            return
        data, text = message.get("bytes"), message.get("text")
        limiter.check(len(data) if data is not None else len(text or ""))
        if data is not None:
            raise ProtocolError("bad_frame", "this stream's audio comes from its url: send no audio, only "
                                             "{\"type\": \"end\"}")
        parse_control(text, limits)
        # "end": the caller stops the feed

    async def _receive(self, ws, limiter: RateLimiter, limits) -> None:
        """Audio frames into the source until the end message; ProtocolError for anything wrong."""
        config = self.config
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), limits.stall_timeout_s)
            except asyncio.TimeoutError:
                raise ProtocolError("stalled", f"nothing received for {limits.stall_timeout_s:g} s") from None
            if message["type"] == "websocket.disconnect":
                self.closed = True
                self.outcome = "disconnected"
                return
            if self.slow:
                raise ProtocolError("slow_client", "the client did not read its events")
            data, text = message.get("bytes"), message.get("text")
            limiter.check(len(data) if data is not None else len(text or ""))
            if data is None:
                parse_control(text, limits)
                return  # "end"
            frames = decode_audio(data, config, limits)
            self.metrics.audio_seconds.inc(len(frames) / config.sample_rate)
            while not self.source.offer(frames):  # flow control: read the socket no faster than recognised
                if self.done.done():
                    return
                await asyncio.sleep(0.01)


__all__ = ["StreamSession", "OutboxLimits"]
