"""Fuzz the server's protocol parser (rtvoice.server.protocol): any first message, any frames after it.

Every input either gives a validated config (and frames decoded to whole float32 frames of its channel
count) or raises ProtocolError with a known code, a close code in the application range and a one-line
reason; nothing else is ever raised.
"""

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from rtvoice.server.protocol import CLOSE_CODES, Limits, ProtocolError, close_reason, decode_audio, \
        parse_config, parse_control

LIMITS = Limits(max_config_bytes=2048, max_frame_bytes=4096)


def check_error(error: ProtocolError) -> None:
    assert error.code in CLOSE_CODES
    assert 4000 <= error.close_code <= 4999
    assert error.reason and "\n" not in error.reason
    assert len(close_reason(error.reason).encode("utf-8")) <= 123


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    as_text = fdp.ConsumeBool()
    head = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3000))
    first = head.decode("utf-8", "replace") if as_text else head
    try:
        config = parse_config(first, LIMITS)
    except ProtocolError as error:
        check_error(error)
        return
    assert config.format in ("s16le", "f32le") and 1 <= config.channels <= 8
    while fdp.remaining_bytes():
        if fdp.ConsumeBool():
            text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 200))
            try:
                assert parse_control(text, LIMITS) == "end"
            except ProtocolError as error:
                check_error(error)
            continue
        frame = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 5000))
        try:
            samples = decode_audio(frame, config, LIMITS)
        except ProtocolError as error:
            check_error(error)
            continue
        assert samples.dtype == np.float32 and samples.ndim == 2 and samples.shape[1] == config.channels
        assert samples.shape[0] * config.frame_bytes == len(frame)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
