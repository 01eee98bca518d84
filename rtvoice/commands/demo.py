"""``rtvoice demo``: the main job on the bundled defaults (what ``make run`` runs).

Live captions on the terminal and a dubbed voice, with latency figures: ``rtvoice dub`` on the
microphone when there is one, otherwise on a real recording paced in real time (a LibriVox reading
shipped by Debian's pocketsphinx-testdata). The voice goes to the speaker when there is an output
device, otherwise to a dubbed track in ``build/demo/dubbed.wav``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_RECORDING = Path(
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
)
DEMO_OUTPUT = Path("build/demo")


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the main job on the bundled defaults (what `make run` does)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, default=None,
                   help="audio file instead of the microphone / bundled recording")
    p.add_argument("--no-mic", action="store_true", help="use the bundled recording even if a microphone exists")
    p.set_defaults(func=run)


def _has_device(kind: str) -> bool:
    try:
        from rtvoice.audio.devices import list_devices

        devices = list_devices()
    except Exception:  # no PortAudio, no server: no device
        return False
    return any((d.max_input_channels if kind == "input" else d.max_output_channels) > 0 for d in devices)


def run(args: argparse.Namespace) -> int:
    import sys

    from rtvoice.cli import main
    from rtvoice.errors import AudioFormatError

    DEMO_OUTPUT.mkdir(parents=True, exist_ok=True)
    if args.input is None and not args.no_mic and _has_device("input"):
        source = ["--mic"]
        print("rtvoice demo: captioning and dubbing the microphone (Ctrl-C to stop)", file=sys.stderr)
    else:
        path = args.input or DEFAULT_RECORDING
        if not path.is_file():
            raise AudioFormatError(f"{path} not found (install Debian's pocketsphinx-testdata or pass --input)")
        source = [str(path), "--realtime"]
        print(f"rtvoice demo: no microphone in use; captioning and dubbing {path.name} in real time",
              file=sys.stderr)
    outputs = ["--srt", str(DEMO_OUTPUT / "captions.srt"), "--jsonl", str(DEMO_OUTPUT / "captions.jsonl"),
               "--stats", str(DEMO_OUTPUT / "stats.json")]
    if _has_device("output"):
        outputs += ["--play", "--wav", str(DEMO_OUTPUT / "dubbed.wav")]
    else:
        outputs += ["--wav", str(DEMO_OUTPUT / "dubbed.wav")]
        print(f"rtvoice demo: no speaker found; the dubbed voice goes to {DEMO_OUTPUT / 'dubbed.wav'}",
              file=sys.stderr)
    code = main(["dub", *source, *outputs])
    if code == 0:
        print(f"rtvoice demo: captions, dubbed voice and figures are in {DEMO_OUTPUT}/", file=sys.stderr)
    return code
