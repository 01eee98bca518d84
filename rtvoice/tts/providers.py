"""Choosing ONNX Runtime execution providers for the voice without tripping ONNX Runtime's error logs.

Asking ONNX Runtime for ``CUDAExecutionProvider`` when the CUDA libraries are missing makes it log errors
and fall back to the CPU on its own. rtvoice probes first, quietly: the CUDA provider is requested only
when the installed ONNX Runtime build offers it, a GPU answers the CUDA driver, and the CUDA runtime,
cuBLAS and cuDNN libraries that build links against can be loaded. Otherwise the CPU is used and the
choice is reported once ("voice on CPU: <reason>").

TensorRT is opt-in (``prefer="tensorrt"``): its engines are built per input-shape profile at start-up,
which costs seconds; rtvoice gives it explicit shape profiles and an engine cache when asked for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("rtvoice.tts")

PREFERENCES = ("auto", "cpu", "cuda", "tensorrt")


@dataclass(frozen=True)
class ProviderChoice:
    """Providers to hand to ``onnxruntime.InferenceSession`` and why."""

    providers: list  # names or (name, options) tuples, best first
    device: str  # "cpu", "cuda" or "tensorrt"
    reason: str  # one line: why this device was chosen
    probe: dict = field(default_factory=dict)  # what was looked at (for --stats and bug reports)

    @property
    def on_gpu(self) -> bool:
        return self.device != "cpu"


def _nvidia_library_dirs() -> list[Path]:
    """lib/ folders of the nvidia-* wheels (onnxruntime-gpu[cuda,cudnn] installs CUDA there)."""
    roots = [Path(p) for p in (site.getsitepackages() + [site.getusersitepackages()]) if p]
    roots += [Path(p) for p in sys.path if p.endswith("site-packages")]
    dirs: list[Path] = []
    for root in dict.fromkeys(roots):
        nvidia = root / "nvidia"
        if nvidia.is_dir():
            dirs += sorted(p for p in nvidia.glob("*/lib") if p.is_dir())
    return dirs


def _cuda_major(ort) -> str | None:
    """CUDA major version the installed ONNX Runtime was built with ("12", "13"), None for CPU builds."""
    try:
        from onnxruntime.capi.onnxruntime_validation import get_package_name_and_version_info

        version = get_package_name_and_version_info()[2]
    except Exception:  # noqa: BLE001 - any failure means "no CUDA build information"
        return None
    return version.split(".")[0] if version else None


def _required_libraries(cuda_major: str) -> list[str]:
    """Shared libraries ONNX Runtime's CUDA provider links against (Linux sonames, as in its own
    ``preload_dlls`` list): CUDA runtime, cuBLASLt before cuBLAS, cuRAND, and cuDNN 9."""
    major = int(cuda_major) if cuda_major.isdigit() else 12
    return [f"libcudart.so.{major}", f"libcublasLt.so.{major}", f"libcublas.so.{major}", "libcurand.so.10",
            "libcudnn.so.9"]


def _load_library(name: str, dirs: list[Path]) -> str | None:
    """Path or name the library loaded from, or None. Loading is harmless: ONNX Runtime would load it anyway."""
    for d in dirs:
        candidate = d / name
        if candidate.is_file():
            try:
                ctypes.CDLL(str(candidate), mode=ctypes.RTLD_GLOBAL)
                return str(candidate)
            except OSError:
                continue
    try:
        ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        return name
    except OSError:
        return None


def _gpu_count() -> tuple[int, str]:
    """Number of CUDA devices the driver reports, and a reason when it is zero."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0, "no NVIDIA driver (libcuda.so.1 not found)"
    if libcuda.cuInit(0) != 0:
        return 0, "the NVIDIA driver found no usable GPU (cuInit failed)"
    count = ctypes.c_int(0)
    if libcuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value <= 0:
        return 0, "the NVIDIA driver reports no GPU"
    return count.value, ""


def choose_providers(prefer: str = "auto", device_id: int = 0, trt_cache_dir: Path | None = None) -> ProviderChoice:
    """Pick execution providers for the voice.

    Args:
        prefer: "auto" (CUDA when usable, else CPU), "cpu", "cuda" (CUDA when usable, else CPU with the
            reason), or "tensorrt" (TensorRT then CUDA when usable).
        device_id: CUDA device index.
        trt_cache_dir: where TensorRT keeps built engines (default ~/.cache/rtvoice/tensorrt).
    """
    if prefer not in PREFERENCES:
        raise ValueError(f"providers must be one of {', '.join(PREFERENCES)}, got {prefer!r}")
    import onnxruntime as ort

    cpu = ProviderChoice(["CPUExecutionProvider"], "cpu", "", {})
    if prefer == "cpu":
        return ProviderChoice(cpu.providers, "cpu", "CPU requested")
    available = ort.get_available_providers()
    probe: dict = {"onnxruntime": ort.__version__, "available": available}
    if os.environ.get("RTVOICE_FORCE_CPU"):
        return ProviderChoice(cpu.providers, "cpu", "RTVOICE_FORCE_CPU is set", probe)
    if "CUDAExecutionProvider" not in available:
        return ProviderChoice(cpu.providers, "cpu", "this ONNX Runtime build has no CUDA provider "
                              "(GPU set-up: scripts/use_onnxruntime_gpu.sh, or `make run GPU=1`)", probe)
    gpus, why = _gpu_count()
    probe["gpus"] = gpus
    if not gpus:
        return ProviderChoice(cpu.providers, "cpu", why, probe)
    major = _cuda_major(ort) or "12"
    dirs = _nvidia_library_dirs()
    loaded, missing = {}, []
    for name in _required_libraries(major):
        where = _load_library(name, dirs)
        (loaded.__setitem__(name, where) if where else missing.append(name))
    probe["cuda_libraries"] = loaded
    if missing:
        return ProviderChoice(cpu.providers, "cpu", f"CUDA libraries missing: {', '.join(missing)} "
                              "(scripts/use_onnxruntime_gpu.sh installs them from PyPI)", probe)
    cuda = ("CUDAExecutionProvider", {"device_id": device_id, "cudnn_conv_algo_search": "HEURISTIC",
                                      "arena_extend_strategy": "kSameAsRequested"})
    providers: list = [cuda, "CPUExecutionProvider"]
    device, reason = "cuda", f"CUDA device {device_id} ({gpus} GPU(s) found)"
    if prefer == "tensorrt":
        if "TensorrtExecutionProvider" in available and _load_library("libnvinfer.so.10", dirs):
            cache = trt_cache_dir or Path.home() / ".cache" / "rtvoice" / "tensorrt"
            cache.mkdir(parents=True, exist_ok=True)
            trt = ("TensorrtExecutionProvider", {"device_id": device_id, "trt_fp16_enable": True,
                                                 "trt_engine_cache_enable": True,
                                                 "trt_engine_cache_path": str(cache)})
            providers.insert(0, trt)
            device, reason = "tensorrt", f"TensorRT on CUDA device {device_id}"
        else:
            reason += "; TensorRT requested but libnvinfer.so.10 or its provider is missing"
    return ProviderChoice(providers, device, reason, probe)
