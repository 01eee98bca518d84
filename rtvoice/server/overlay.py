"""The caption overlay for OBS (a browser source): ``GET /overlay?stream=ID&...`` and its feed.

The page (overlay.html beside this module) is self-contained: its style and script are inline, it loads
nothing else, its background is transparent. It opens ``/v1/captions?stream=ID`` (a WebSocket that only
receives), shows partial captions as they firm up, keeps finals, lets old lines scroll off, and reconnects
by itself when the server goes away. Viewers may connect before the stream starts and stay across streams
of the same name.

Each final sent to a viewer carries ``sent_at`` (the server's time.time() when it was handed to the socket),
so the page can tell how long the text took to reach its DOM (``window.rtvoiceOverlay.latencies``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict, dataclass
from importlib import resources

from rtvoice.server.protocol import STREAM_ID, tokens_match

FONT = re.compile(r"[A-Za-z0-9 ,'-]{1,80}")
COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}|[a-zA-Z]{3,20}|rgba?\([0-9., ]{5,40}\)")


class OverlayError(ValueError):
    """A query parameter of /overlay that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class OverlayStyle:
    """The page's look: font family, size (px), lines kept, position (top|bottom), colour, background."""

    stream: str
    font: str = "sans-serif"
    size: int = 42
    lines: int = 2
    position: str = "bottom"
    color: str = "#ffffff"
    background: str = ""  # e.g. rgba(0,0,0,0.5); empty: none (text shadow only)

    @classmethod
    def from_query(cls, query: dict) -> "OverlayStyle":
        stream = query.get("stream")
        if not stream or not STREAM_ID.fullmatch(stream):
            raise OverlayError("?stream= must name a stream (1-64 of A-Z a-z 0-9 _ . -)")
        style = {"stream": stream}
        if "font" in query:
            if not FONT.fullmatch(query["font"]):
                raise OverlayError("font must be a font family name (letters, digits, spaces, commas)")
            style["font"] = query["font"]
        for name, low, high in (("size", 8, 300), ("lines", 1, 10)):
            if name in query:
                try:
                    value = int(query[name])
                except ValueError:
                    raise OverlayError(f"{name} must be a whole number") from None
                if not low <= value <= high:
                    raise OverlayError(f"{name} must be within {low}..{high}")
                style[name] = value
        if "position" in query:
            if query["position"] not in ("top", "bottom"):
                raise OverlayError("position must be top or bottom")
            style["position"] = query["position"]
        for name in ("color", "background"):
            if name in query:
                if not COLOUR.fullmatch(query[name]):
                    raise OverlayError(f"{name} must be a CSS colour (#rrggbb, a name, rgb()/rgba())")
                style[name] = query[name]
        return cls(**style)


def overlay_page(style: OverlayStyle, token: str | None = None) -> str:
    """The page for `style`; the settings go in as JSON inside a script element ('<' escaped, so nothing in
    them can close it)."""
    settings = {**asdict(style), "token": token or ""}
    blob = json.dumps(settings).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = resources.files("rtvoice.server").joinpath("overlay.html").read_text(encoding="utf-8")
    return template.replace("__SETTINGS__", blob)


class OverlayHub:
    """Viewers of each stream name, and the captions handed to them (event-loop thread only).

    A viewer that does not keep up loses partials past `max_waiting` queued (finals are always queued;
    past 4 x max_waiting it is disconnected)."""

    def __init__(self, max_waiting: int = 32):
        self.viewers: dict[str, set[asyncio.Queue]] = {}
        self.max_waiting = max_waiting

    def publish(self, stream: str, event) -> None:
        viewers = self.viewers.get(stream)
        if not viewers:
            return
        message = {"type": event.kind, "stream": stream, "segment": event.segment, "text": event.text,
                   "committed": event.committed, "unstable": event.unstable}
        for queue in list(viewers):
            waiting = queue.qsize()
            if event.kind == "partial" and waiting >= self.max_waiting:
                continue
            if waiting >= 4 * self.max_waiting:
                queue.put_nowait(None)  # the viewer's sender stops and closes
                viewers.discard(queue)
                continue
            queue.put_nowait(message)

    async def serve_viewer(self, ws, server_token: str | None) -> None:
        """One viewer socket: captions of ?stream= until it goes away."""
        stream = ws.query_params.get("stream", "")
        await ws.accept()
        if not STREAM_ID.fullmatch(stream):
            await ws.close(code=4400, reason="?stream= must name a stream")
            return
        if not tokens_match(ws.query_params.get("token"), server_token):
            await ws.close(code=4401, reason="a valid ?token= is required")
            return
        queue: asyncio.Queue = asyncio.Queue()
        self.viewers.setdefault(stream, set()).add(queue)
        reader = asyncio.create_task(self._drain(ws))
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    return
                message = getter.result()
                if message is None:
                    await ws.close(code=4430, reason="the viewer did not keep up")
                    return
                if message["type"] == "final":
                    message = {**message, "sent_at": time.time()}
                await ws.send_text(json.dumps(message))
        except Exception:  # the viewer went away mid-send
            return
        finally:
            reader.cancel()
            viewers = self.viewers.get(stream)
            if viewers is not None:
                viewers.discard(queue)
                if not viewers:
                    del self.viewers[stream]

    @staticmethod
    async def _drain(ws) -> None:
        """Viewers send nothing that matters; returns when the socket closes."""
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


__all__ = ["OverlayHub", "OverlayStyle", "OverlayError", "overlay_page"]
