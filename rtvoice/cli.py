"""The ``rtvoice`` command line."""

from __future__ import annotations

import argparse
import sys


def _cmd_devices(args: argparse.Namespace) -> int:
    from rtvoice.devices import list_devices

    devices = list_devices()
    if not devices:
        print("no audio devices found (is PortAudio installed and a sound server running?)")
        return 0
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'default Hz':>10}  name")
    for d in devices:
        print(f"{d.index:>3}  {d.max_input_channels:>3} {d.max_output_channels:>3}  {d.default_samplerate:>10.0f}  {d.name}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from rtvoice.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    from rtvoice import __version__

    parser = argparse.ArgumentParser(prog="rtvoice", description="Real-time streaming voice engine.")
    parser.add_argument("--version", action="version", version=f"rtvoice {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("devices", help="list audio devices with their default sample rates")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("demo", help="run the main job on the bundled defaults (what `make run` does)")
    p.add_argument("--input", help="audio file (default: a LibriVox recording from pocketsphinx-testdata)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except RtvoiceError as error:
        print(f"rtvoice: error: {error}", file=sys.stderr)
        return 2


from rtvoice.errors import RtvoiceError  # noqa: E402  (kept last: cli must import cheaply)
