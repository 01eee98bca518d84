"""rtvoice: a real-time streaming voice engine (live captions in, synthesized voice out).

The native core lives in :mod:`rtvoice._core` (C++17); this package is its Python face. Rooms: ``audio``
(sources, devices, native callbacks), ``frontend`` (DC blocker, denoiser, VAD, features), ``asr``, ``tts``,
``pipeline`` (engine, dubbing, overload, bench), ``metrics`` and ``commands`` (the ``rtvoice`` command).
"""

import sys as _sys
from importlib import metadata as _metadata

try:
    from rtvoice._core import RingBuffer
except ImportError as error:  # pragma: no cover - only on a broken install
    raise ImportError(
        "rtvoice's native module is not built. From a checkout run `make build` "
        "(or `pip install .`)."
    ) from error

# The feature API lived at rtvoice.features before the front end got its own room; both spellings work.
from rtvoice.frontend import features  # noqa: E402

_sys.modules.setdefault("rtvoice.features", features)

try:
    __version__ = _metadata.version("rtvoice")
except _metadata.PackageNotFoundError:  # running from a source checkout
    __version__ = "0.1.0"

__all__ = ["RingBuffer", "features", "__version__"]
