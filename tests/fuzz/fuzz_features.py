"""Fuzz the framer and feature computers with arbitrary values, options and chunkings.

Every input must either raise ValueError/TypeError or give the same frames streamed as computed whole.
"""

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice import features as F


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 3)
    n = fdp.ConsumeIntInRange(0, 4000)
    raw = fdp.ConsumeBytes(n * 4)
    samples = np.frombuffer(raw[: len(raw) // 4 * 4], dtype=np.float32).copy()
    cuts = sorted(fdp.ConsumeIntInRange(0, len(samples)) for _ in range(fdp.ConsumeIntInRange(0, 6)))
    try:
        if kind == 0:
            framer_args = (fdp.ConsumeIntInRange(0, 700), fdp.ConsumeIntInRange(0, 500),
                           fdp.PickValueInList(["hann", "hamming", "povey", "rectangular", "bogus"]),
                           fdp.ConsumeBool())
            computer = F.Framer(*framer_args)
        elif kind == 1:
            computer = F.Fbank(F.fbank_options(
                num_mel_bins=fdp.ConsumeIntInRange(0, 100), snip_edges=fdp.ConsumeBool(),
                frame_length_ms=fdp.ConsumeFloatInRange(0.0, 60.0), frame_shift_ms=fdp.ConsumeFloatInRange(0.0, 30.0),
                low_freq=fdp.ConsumeFloatInRange(-10.0, 9000.0), use_energy=fdp.ConsumeBool()))
        elif kind == 2:
            computer = F.Mfcc(F.mfcc_options(num_ceps=fdp.ConsumeIntInRange(0, 30), snip_edges=fdp.ConsumeBool()))
        else:
            F.WhisperLogMel(fdp.PickValueInList([80, 128, 0])).compute(samples)
            return
    except (ValueError, TypeError):
        return
    try:
        if isinstance(computer, F.Framer):
            reference = F.Framer(*framer_args)
            reference.accept_waveform(samples)
            reference.input_finished()
            whole = reference.pop_frames()
        else:
            whole = computer.compute(samples)
        pieces = []
        for a, b in zip([0, *cuts], [*cuts, len(samples)]):
            computer.accept_waveform(samples[a:b])
            pieces.append(computer.pop_frames())
        computer.input_finished()
        pieces.append(computer.pop_frames())
    except ValueError as error:
        assert not np.isfinite(samples).all(), error  # only non-finite samples may be refused here
        return
    assert np.array_equal(np.concatenate(pieces), whole, equal_nan=True)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
