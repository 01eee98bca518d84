"""rtvoice: a real-time streaming voice engine (live captions in, synthesized voice out).

The native core lives in :mod:`rtvoice._core` (C++17); this package is its Python face.
"""

from importlib import metadata as _metadata

try:
    from rtvoice._core import RingBuffer
except ImportError as error:  # pragma: no cover - only on a broken install
    raise ImportError(
        "rtvoice's native module is not built. From a checkout run `make build` "
        "(or `pip install .`)."
    ) from error

try:
    __version__ = _metadata.version("rtvoice")
except _metadata.PackageNotFoundError:  # running from a source checkout
    __version__ = "0.1.0"

__all__ = ["RingBuffer", "__version__"]
