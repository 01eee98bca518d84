"""Fuzz the raw PCM reader (``rtvoice caption -``): any bytes, any declared format.

Every input either ends with one clear AudioFormatError (no audio at all) or is delivered whole: every
complete frame counted, the incomplete tail counted as trailing bytes, and only finite samples delivered
(NaN/Inf are replaced and counted).
"""

import io
import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice import RingBuffer
    from rtvoice.errors import AudioFormatError
    from rtvoice.audio.sources import RAW_FORMATS, StdinSource


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    fmt = fdp.PickValueInList(sorted(RAW_FORMATS))
    rate = fdp.PickValueInList([8000, 11025, 16000, 22050, 44100, 48000, 96000])
    channels = fdp.ConsumeIntInRange(1, 6)
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    ring = RingBuffer(1 << 21)
    source = StdinSource(fmt, rate, channels, stream=io.BytesIO(payload))
    source.start(ring)
    assert source.join(30), "reader hung"
    frame_bytes = np.dtype(RAW_FORMATS[fmt][0]).itemsize * channels
    frames = len(payload) // frame_bytes
    if frames == 0:
        assert isinstance(source.error, AudioFormatError), source.error
        return
    assert source.error is None, source.error
    assert source.stats.input_frames == frames
    assert source.stats.trailing_bytes == len(payload) % frame_bytes
    delivered = ring.read(ring.available)
    assert np.isfinite(delivered).all()
    expected = frames * 16000 / rate
    assert abs(len(delivered) - expected) <= 2 + 0.01 * expected, (len(delivered), expected)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
