"""`make test-isa` runs the speech tests once per instruction set the CPU runs, read from /proc/cpuinfo."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "test_isa.py"


@pytest.fixture(scope="module")
def test_isa():
    spec = importlib.util.spec_from_file_location("test_isa_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse4_1 sse4_2 avx f16c avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni",
     ["AVX512_VNNI", "AVX512", "AVX2", "AVX", "GENERIC"]),
    ("fpu sse4_1 sse4_2 avx f16c avx2 fma avx512f avx512dq avx512bw avx512vl",  # Skylake-SP: no VNNI
     ["AVX512", "AVX2", "AVX", "GENERIC"]),
    ("fpu sse4_1 sse4_2 avx f16c fma avx2", ["AVX2", "AVX", "GENERIC"]),  # an AVX2-only AMD EPYC
    ("fpu sse4_1 sse4_2 avx avx512f", ["AVX", "GENERIC"]),  # avx512f alone: not oneDNN's AVX512_CORE, no avx2
    ("fpu sse4_1 sse4_2", ["GENERIC"]),
])
def test_levels_from_cpu_flags(test_isa, flags, expected):
    cpuinfo = f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\nbugs\t\t: none\n"
    assert test_isa.supported_levels(test_isa.cpu_flags(cpuinfo)) == expected


def test_each_level_forces_both_libraries(test_isa, monkeypatch):
    monkeypatch.setenv("CT2_FORCE_CPU_ISA", "AVX512")
    env = test_isa.environment("AVX2")
    assert env["CT2_FORCE_CPU_ISA"] == "AVX2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    vnni = test_isa.environment("AVX512_VNNI")
    assert vnni["CT2_FORCE_CPU_ISA"] == "AVX512" and vnni["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE_VNNI"
    native = test_isa.environment("native")
    assert "CT2_FORCE_CPU_ISA" not in native and "ONEDNN_MAX_CPU_ISA" not in native


def test_this_machine_runs_generic(test_isa):
    assert test_isa.supported_levels(test_isa.cpu_flags(Path("/proc/cpuinfo").read_text()))[-1] == "GENERIC"
