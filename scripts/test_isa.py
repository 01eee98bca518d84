"""Run the tests that decode speech once per CPU instruction set this machine can run (``make test-isa``).

    PYTHONPATH=. .venv/bin/python scripts/test_isa.py [--isa AVX2 ...] [--tests tests/x.py ...] [-- PYTEST ARGS]

Whisper's output depends on the CPU's rounding: two machines can hear "ill-disposed" and "old-sposed" in the
same recording. CTranslate2 picks its own kernels by CPU (``CT2_FORCE_CPU_ISA`` forces one), but its
matrix products run in oneDNN, which picks its kernels separately (``ONEDNN_MAX_CPU_ISA`` caps them); the
int8 products, whose rounding is what differs, are oneDNN's. So each run forces both to the same level,
which reproduces on this machine the numerics of a machine that has only that level (an AVX2-only AMD EPYC
is "AVX2": CTranslate2 AVX2, oneDNN AVX2; measured in docs/asr.md). "native" is what this machine picks.

Levels are those /proc/cpuinfo says the CPU runs: AVX512_VNNI (AVX512 with oneDNN capped at its VNNI
kernels, as on an AMD EPYC with AVX-512), AVX512 (avx512f, bw, vl, dq), AVX2 (avx2, fma), AVX (avx), GENERIC
(always: plain C++ in CTranslate2, SSE4.1 in oneDNN). "native" can hear words no forced level does: on an
Intel Xeon with AMX, "enfaticamente" where every level hears "enfáticamente". Exit status 1 if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_AVX512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
# level -> (CT2_FORCE_CPU_ISA, ONEDNN_MAX_CPU_ISA cap, /proc/cpuinfo flags it needs). AVX512 is capped at
# oneDNN's AVX512_CORE (Skylake-SP: no VNNI), whose int8 kernels differ most from a VNNI machine's.
LEVELS = {
    "AVX512_VNNI": ("AVX512", "AVX512_CORE_VNNI", _AVX512 | {"avx512_vnni"}),
    "AVX512": ("AVX512", "AVX512_CORE", _AVX512),
    "AVX2": ("AVX2", "AVX2", {"avx2", "fma"}),
    "AVX": ("AVX", "AVX", {"avx"}),
    "GENERIC": ("GENERIC", "SSE41", set()),
}

# Every test file that decodes speech (directly, or through `rtvoice caption` / `dub` / `bench`).
SPEECH_TESTS = [
    "tests/test_asr_whisper.py",
    "tests/test_asr_streaming.py",
    "tests/test_asr_pipeline.py",
    "tests/test_asr_context.py",
    "tests/test_prepared_finals.py",
    "tests/test_frozen_commits.py",
    "tests/test_bad_input.py",
    "tests/test_device_loss.py",
    "tests/test_dub.py",
    "tests/test_dub_engine_crash.py",
    "tests/test_overload.py",
    "tests/test_tts_roundtrip.py",
    "tests/test_language_detection.py",
    "tests/test_multilingual_wer.py",
    "tests/test_multilingual_captions.py",
    "tests/test_translated_captions.py",
    "tests/test_translated_dub.py",
    "tests/test_dub_to_english.py",
    "tests/test_server_batching.py",
    "tests/test_clock.py",
    "tests/test_feeds.py",
    "tests/test_scc.py",
    "tests/test_hls_vtt.py",
    "tests/test_program_captions.py",
    "tests/test_voice_units.py",
    "tests/test_server_feeds.py",
    "tests/test_program_live.py",
]


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first processor in a /proc/cpuinfo text."""
    match = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def supported_levels(flags: set[str]) -> list[str]:
    """The CT2_FORCE_CPU_ISA levels a CPU with these flags runs, best first (GENERIC always)."""
    return [level for level, (_, _, needs) in LEVELS.items() if needs <= flags]


def environment(level: str) -> dict[str, str]:
    """The process environment that forces `level` ("native": nothing forced)."""
    env = dict(os.environ)
    env.pop("CT2_FORCE_CPU_ISA", None)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if level != "native":
        env["CT2_FORCE_CPU_ISA"], env["ONEDNN_MAX_CPU_ISA"], _ = LEVELS[level]
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", action="append", choices=[*LEVELS, "native"],
                        help="run only this level (repeatable; default: every level this CPU runs, and native)")
    parser.add_argument("--tests", action="append", metavar="PATH",
                        help="run these tests instead of every file that decodes speech (repeatable)")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. -m 'not slow')")
    args = parser.parse_args()
    flags = cpu_flags(Path("/proc/cpuinfo").read_text())
    levels = args.isa or ["native", *supported_levels(flags)]
    unsupported = [level for level in levels if level != "native" and level not in supported_levels(flags)]
    if unsupported:
        parser.error(f"this CPU does not run {', '.join(unsupported)} (flags lack {LEVELS[unsupported[0]][2] - flags})")
    tests = args.tests or [t for t in SPEECH_TESTS if (REPO / t).is_file()]
    results = []
    for level in levels:
        print(f"== {level}: " + ("CTranslate2 and oneDNN choose" if level == "native" else
                                 "CT2_FORCE_CPU_ISA={} ONEDNN_MAX_CPU_ISA={}".format(*LEVELS[level][:2])), flush=True)
        t0 = time.monotonic()
        run = subprocess.Popen([sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", "-rfE",
                                *args.pytest_args], cwd=REPO, env=environment(level), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in run.stdout:  # pytest's own report, as it comes
            print(line, end="", flush=True)
            lines.append(line.rstrip())
        code = run.wait()
        summary = next((line for line in reversed(lines) if line.strip()), "no output")
        results.append((level, code, summary, time.monotonic() - t0))
    print(f"\n{'level':<11} {'result':<6} {'minutes':>7}  pytest summary")
    for level, code, summary, seconds in results:
        print(f"{level:<11} {'pass' if code == 0 else 'FAIL':<6} {seconds / 60:7.1f}  {summary.strip('= ')}")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
