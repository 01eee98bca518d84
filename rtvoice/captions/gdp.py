"""The GStreamer data protocol (GDP 1.0): buffers, caps and events as a byte stream that ``gdpdepay`` turns back
into a GStreamer stream (``filesrc location=F ! gdpdepay ! …`` in a ``gst-launch-1.0`` line).

rtvoice writes one to hand timed data to a GStreamer child without Python bindings (rtvoice.captions.program: a
programme's caption data). A packet is a 62-byte big-endian header (major and minor version 1.0, flags, the
payload type, the payload length, then for a buffer its PTS, duration, offset, offset end, buffer flags and DTS;
the two CRCs at its end are left out: a zero flags byte says so) and the payload. Payload types: 1 a buffer,
2 caps (the caps string, NUL-ended), 64 + the event type an event (its structure string, NUL-ended). The layout
is what ``gdppay`` writes (gst-plugins-bad 1.22, gst/gdp/dataprotocol.c).
"""

from __future__ import annotations

import struct

NONE = 2 ** 64 - 1  # GST_CLOCK_TIME_NONE, GST_BUFFER_OFFSET_NONE
HEADER_BYTES = 62
BUFFER, CAPS, EVENT = 1, 2, 64
EVENT_STREAM_START = (40 << 8) | 0x0E  # GST_EVENT_STREAM_START: number 40, downstream, serialized, sticky
EVENT_SEGMENT = (70 << 8) | 0x0E  # GST_EVENT_SEGMENT: number 70, the same flags


def packet(kind: int, payload: bytes, pts: int = NONE, duration: int = NONE) -> bytes:
    """One packet: the header (no CRCs, no offsets, no buffer flags, no DTS) and `payload`; times in ns."""
    header = (struct.pack(">BBBxHI", 1, 0, 0, kind, len(payload)) +
              struct.pack(">QQQQHQ", pts, duration, NONE, NONE, 0, NONE))
    return header.ljust(HEADER_BYTES, b"\0") + payload


def buffer(data: bytes, pts_ns: int, duration_ns: int) -> bytes:
    return packet(BUFFER, data, pts_ns, duration_ns)


def caps(description: str) -> bytes:
    """The stream's caps, e.g. ``closedcaption/x-cea-708, format=(string)cc_data``."""
    return packet(CAPS, description.encode() + b"\0")


def stream_start(stream_id: str) -> bytes:
    return packet(EVENT + EVENT_STREAM_START,
                  f"GstEventStreamStart, stream-id=(string){stream_id}, flags=(GstStreamFlags)GST_STREAM_FLAG_NONE, "
                  "group-id=(uint)1;".encode() + b"\0")


def time_segment() -> bytes:
    """A time segment from 0 with no end: a buffer's running time is its PTS."""
    return packet(EVENT + EVENT_SEGMENT,
                  b'GstEventSegment, segment=(GstSegment)"segment, flags=(GstSegmentFlags)GST_SEGMENT_FLAG_NONE, '
                  b'rate=(double)1, applied-rate=(double)1, format=(GstFormat)time, base=(guint64)0, '
                  b'offset=(guint64)0, start=(guint64)0, stop=(guint64)18446744073709551615, time=(guint64)0, '
                  b'position=(guint64)0, duration=(guint64)18446744073709551615;";\0')
