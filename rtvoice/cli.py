"""The ``rtvoice`` command line.

Each subcommand lives in its own module under :mod:`rtvoice.commands` with a ``register(subparsers)``
function; heavy imports happen inside the command, so ``rtvoice --version`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rtvoice.allocator import limit_malloc_arenas
from rtvoice.errors import RtvoiceError

COMMAND_MODULES = (
    "rtvoice.commands.devices",
    "rtvoice.commands.demo",
    "rtvoice.commands.caption",
    "rtvoice.commands.dub",
    "rtvoice.commands.bench",
    "rtvoice.commands.say",
    "rtvoice.commands.models",
    "rtvoice.commands.serve",
    "rtvoice.commands.stream",
    "rtvoice.commands.translate",
    "rtvoice.commands.voices",
)


def build_parser() -> argparse.ArgumentParser:
    from rtvoice import __version__

    parser = argparse.ArgumentParser(prog="rtvoice", description="Real-time streaming voice engine.")
    parser.add_argument("--version", action="version", version=f"rtvoice {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        limit_malloc_arenas()  # before any worker thread exists (rtvoice.allocator says why)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except RtvoiceError as error:
        print(f"rtvoice: error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)  # 3: the input device was lost mid-stream (DeviceLostError)
