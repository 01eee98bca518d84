"""Pipelines that wire a source through the front end to recognition, captions and voice: the caption
engine, the dubbing stage, overload monitoring, and the `rtvoice bench` runner."""
