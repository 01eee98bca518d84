"""``rtvoice devices``: list audio devices with their default sample rates."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("devices", help="list audio devices with their default sample rates")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtvoice.audio.devices import list_devices

    devices = list_devices()
    if not devices:
        print("no audio devices found (is a sound server running? `rtvoice` uses PortAudio)")
        return 0
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'default Hz':>10}  name")
    for d in devices:
        print(f"{d.index:>3}  {d.max_input_channels:>3} {d.max_output_channels:>3}  {d.default_samplerate:>10.0f}  {d.name}")
    return 0
