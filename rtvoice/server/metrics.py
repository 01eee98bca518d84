"""The server's Prometheus metrics (``GET /metrics``), in a registry of its own (one per server).

Per-stream series carry a ``stream`` label and are removed when the stream ends, so a long-running
server's /metrics does not grow with every stream it ever served; the unlabelled series are the totals.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the app)

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)  # seconds
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16)


class ServerMetrics:
    """Counters, gauges and histograms of one server."""

    def __init__(self):
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.active_streams = Gauge("rtvoice_active_streams", "Streams being recognised now", registry=r)
        self.max_streams = Gauge("rtvoice_max_streams", "Streams the server accepts at once", registry=r)
        self.streams = Counter("rtvoice_streams", "Streams by how they ended (or were refused)", ["outcome"],
                               registry=r)
        self.final_latency = Histogram("rtvoice_final_latency_seconds", "End of a final's last word to the "
                                       "final sent (live streams)", buckets=LATENCY_BUCKETS, registry=r)
        self.partial_latency = Histogram("rtvoice_partial_latency_seconds", "Audio decoded to the partial sent "
                                         "(live streams)", buckets=LATENCY_BUCKETS, registry=r)
        self.stream_final_latency = Histogram("rtvoice_stream_final_latency_seconds", "Final latency per stream",
                                              ["stream"], buckets=LATENCY_BUCKETS, registry=r)
        self.lag = Gauge("rtvoice_lag_seconds", "Audio received but not yet taken by the recognizer",
                         ["stream"], registry=r)
        self.captions = Counter("rtvoice_captions", "Caption events sent", ["kind"], registry=r)
        self.dropped_samples = Counter("rtvoice_dropped_samples", "16 kHz samples dropped (backlog full, "
                                       "live streams)", registry=r)
        self.skipped_partials = Counter("rtvoice_skipped_partials", "Partial decodes skipped while behind",
                                        registry=r)
        self.dropped_events = Counter("rtvoice_dropped_events", "Partial events not sent to a client that "
                                      "reads too slowly", registry=r)
        self.decode_batch = Histogram("rtvoice_decode_batch_size", "Decodes run together as one batch",
                                      buckets=BATCH_BUCKETS, registry=r)
        self.decode_seconds = Histogram("rtvoice_decode_seconds", "Time of one decode call (batch)",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.decode_wait = Histogram("rtvoice_decode_wait_seconds", "Time a decode waited for the shared model",
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.audio_seconds = Counter("rtvoice_audio_seconds", "Seconds of audio received", registry=r)

    def stream_ended(self, stream: str) -> None:
        for metric in (self.stream_final_latency, self.lag):
            try:
                metric.remove(stream)
            except KeyError:
                pass

    def text(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["ServerMetrics", "CONTENT_TYPE_LATEST"]
