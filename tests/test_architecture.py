"""The rules of shared/ARCHITECTURE.md that code can check."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package, forbidden", [("rtvoice.asr", "rtvoice.tts"), ("rtvoice.tts", "rtvoice.asr")])
def test_asr_and_tts_never_import_each_other(package, forbidden):
    code = (f"import sys, importlib; importlib.import_module({package!r}); "
            f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"{package} pulls in {out}"


def test_no_module_imports_torch_or_the_silero_vad_package():
    code = ("import sys, rtvoice.asr, rtvoice.tts, rtvoice.frontend.vad, rtvoice.frontend.front_end, rtvoice.pipeline.engine; "
            "print([m for m in ('torch', 'silero_vad') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_native_core_never_includes_python_or_pybind11():
    offenders = []
    for path in [*REPO.glob("cpp/include/rtvoice/*.h"), *REPO.glob("cpp/src/*")]:
        if re.search(r'#\s*include\s*[<"](pybind11/|Python\.h)', path.read_text()):
            offenders.append(path.name)
    assert not offenders

