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


# Rooms of rtvoice/ and the rooms each may import (shared/ARCHITECTURE.md, README "Layout"). "core" is the
# top-level modules every room may use; a top-level module not listed here is a room of its own and fails.
CORE_MODULES = {"__init__", "errors", "models", "allocator", "_core"}
ALLOWED_IMPORTS = {
    "core": {"core", "frontend"},  # rtvoice/__init__ re-exports rtvoice.frontend.features
    "metrics": {"core"},
    "frontend": {"core"},
    "audio": {"core"},
    "asr": {"core", "frontend", "metrics"},
    "tts": {"core", "audio", "metrics"},
    "mt": {"core", "metrics"},
    "captions": {"core", "metrics"},
    "pipeline": {"core", "metrics", "frontend", "audio", "asr", "tts", "mt", "captions"},
    "server": {"core", "metrics", "frontend", "audio", "asr", "tts", "mt", "captions", "pipeline"},
    "commands": {"core", "metrics", "frontend", "audio", "asr", "tts", "mt", "captions", "pipeline", "server",
                 "cli"},
    "cli": {"core", "commands"},
    "__main__": {"core", "cli"},
}


def room_of(module: str) -> str:
    """'rtvoice.asr.whisper' -> 'asr'; 'rtvoice.errors' -> 'core'; 'rtvoice' -> 'core'."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    head = parts[1]
    if head in CORE_MODULES:
        return "core"
    return head


def rtvoice_imports(source: str, module: str) -> set[str]:
    """Modules of rtvoice imported anywhere in `source` (top level or inside functions)."""
    import ast

    found = set()
    # the package a relative import starts from: a package's own name for its __init__, else the parent
    package = module.removesuffix(".__init__") if module.endswith(".__init__") else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "rtvoice")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] == "rtvoice":
                found.add(name)
                # `from rtvoice import features` names a module of a room, not only the package
                if name == "rtvoice":
                    found.update(f"rtvoice.{a.name}" for a in node.names if a.name not in ("RingBuffer",
                                                                                           "__version__"))
    return found


def import_violations(files: dict[str, str]) -> list[str]:
    """'module imports other (room -> room)' for every import not allowed by ALLOWED_IMPORTS.
    `files` maps module names (rtvoice.x.y) to their source."""
    bad = []
    for module, source in sorted(files.items()):
        room = room_of(module)
        allowed = ALLOWED_IMPORTS.get(room)
        if allowed is None:
            bad.append(f"{module}: room {room!r} is not in ALLOWED_IMPORTS")
            continue
        for target in sorted(rtvoice_imports(source, module)):
            target_room = room_of(target)
            if target_room not in allowed and target_room != room:
                bad.append(f"{module} imports {target} ({room} -> {target_room})")
    return bad


def _package_sources() -> dict[str, str]:
    files = {}
    for path in (REPO / "rtvoice").rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        files[".".join(rel.parts)] = path.read_text()
    return files


def test_rooms_import_only_downwards():
    assert import_violations(_package_sources()) == []


def test_every_room_has_a_package_docstring():
    """Each room's name says what lives there, and its __init__ says it in a sentence."""
    import ast

    for room in ALLOWED_IMPORTS:
        init = REPO / "rtvoice" / room / "__init__.py"
        if room in ("core", "cli", "__main__") or not init.parent.exists():
            continue
        assert ast.get_docstring(ast.parse(init.read_text())), f"rtvoice/{room}/__init__.py has no docstring"


@pytest.mark.parametrize("module, source, expected", [
    ("rtvoice.asr.whisper", "from rtvoice.tts import TtsEngine", "asr -> tts"),
    ("rtvoice.frontend.vad", "def f():\n    from rtvoice.pipeline.engine import CaptionPipeline", "frontend -> pipeline"),
    ("rtvoice.pipeline.engine", "import rtvoice.server.app", "pipeline -> server"),
    ("rtvoice.metrics.latency", "from ..asr import whisper", "metrics -> asr"),
    ("rtvoice.metrics.__init__", "from ..asr import whisper", "metrics -> asr"),
    ("rtvoice.mt.apertium", "from rtvoice import commands", "mt -> commands"),
    ("rtvoice.newroom.thing", "import json", "room 'newroom' is not in ALLOWED_IMPORTS"),
])
def test_a_wrong_direction_is_caught(module, source, expected):
    """The checker itself: a new wrong import (top level, in a function, relative) or a new room fails."""
    bad = import_violations({module: source})
    assert len(bad) == 1 and expected in bad[0], bad


def test_public_imports_of_the_old_layout_still_work():
    code = ("from rtvoice import RingBuffer, features; import rtvoice.features as f2; "
            "from rtvoice.features import WhisperLogMel; assert f2 is features; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


def test_no_streaming_policy_module_outgrows_500_lines():
    """The streaming policy stays in small parts (issue 33): a module of rtvoice/asr/ over 500 lines is a sign
    that a refinement went into the coordinator instead of a part of its own."""
    sizes = {path.name: len(path.read_text().splitlines()) for path in (REPO / "rtvoice" / "asr").glob("*.py")}
    assert sizes and not {name: n for name, n in sizes.items() if n > 500}
