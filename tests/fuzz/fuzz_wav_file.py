"""Fuzz the audio-file path (``rtvoice caption FILE``) with arbitrary, mostly corrupt, file contents.

Opening and reading must end in either audio (finite samples) or one RtvoiceError with a message; never any
other exception, a crash or a hang.
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice import RingBuffer
    from rtvoice.errors import RtvoiceError
    from rtvoice.audio.sources import FileSource

_DIR = tempfile.mkdtemp(prefix="rtvoice-fuzz-wav-")


def TestOneInput(data: bytes) -> None:
    path = os.path.join(_DIR, "input.wav")
    with open(path, "wb") as f:
        f.write(data)
    try:
        source = FileSource(path)
    except RtvoiceError as error:
        assert str(error)
        return
    ring = RingBuffer(1 << 22)
    source.set_limit(None)
    source.start(ring)
    assert source.join(30), "reader hung"
    if source.error is not None:
        assert isinstance(source.error, RtvoiceError) and str(source.error), repr(source.error)
        return
    assert np.isfinite(ring.read(ring.available)).all()


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
