"""CEA-608 roll-up captions in SCC files (rtvoice.captions.cea608, rtvoice.captions.scc), read back by an
independent decoder: FFmpeg's SCC demuxer and its EIA-608 decoder (``ffmpeg -i out.scc out.srt``)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from feed_support import FFMPEG, RtvoiceRun, free_port, needs_ffmpeg, padded, read_stats, sender, stop, wer
from rtvoice.captions.cea608 import Cea608Encoder, parity
from rtvoice.captions.scc import FRAME_RATE, SccWriter, drop_frame_timecode
from rtvoice.captions.writers import wrap_words

FRAME = 1 / FRAME_RATE


# --- the encoder's bytes against the standard's figures --------------------------------------------------------

def test_odd_parity_of_every_byte():
    for byte in range(128):
        coded = parity(byte)
        assert coded & 0x7F == byte and bin(coded).count("1") % 2 == 1


def test_drop_frame_timecodes():
    """SMPTE drop-frame: labels ;00 and ;01 are skipped at each minute but every tenth; 10 minutes are 17982
    frames, an hour 107892."""
    assert drop_frame_timecode(0) == "00:00:00;00"
    assert drop_frame_timecode(1799) == "00:00:59;29"
    assert drop_frame_timecode(1800) == "00:01:00;02"
    assert drop_frame_timecode(17982) == "00:10:00;00"
    assert drop_frame_timecode(107892) == "01:00:00;00"


def test_control_codes_per_channel():
    """RU3, CR and the row-15 preamble, each sent twice; CC2 sets 0x08 in the first byte; CC3's (field 2)
    miscellaneous codes start 0x15 (0x1D for CC4), its preamble is CC1's."""
    cc1 = Cea608Encoder(1).line("")
    assert [f"{a:02x}{b:02x}" for a, b in cc1] == ["9426", "9426", "94ad", "94ad", "9470", "9470"]
    assert [f"{a:02x}" for a, _ in Cea608Encoder(2).line("")] == ["1c", "1c", "1c", "1c", "1c", "1c"]
    assert [f"{a:02x}" for a, _ in Cea608Encoder(3).line("")] == ["15", "15", "15", "15", "94", "94"]
    assert [f"{a:02x}{b:02x}" for a, b in Cea608Encoder(1, rows=2).line("")][:1] == ["9425"]
    assert Cea608Encoder(1).erase() == [(0x94, 0x2C), (0x94, 0x2C)]


# --- FFmpeg's decoder reads the files back ------------------------------------------------------------------------

def decode_with_ffmpeg(scc_path, tmp_path) -> list[tuple[float, list[str]]]:
    """FFmpeg's SRT of an SCC file, as (cue start s, screen rows) for every screen state it shows."""
    out = tmp_path / (scc_path.stem + ".decoded.srt")
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(scc_path), str(out)],
                   check=True, timeout=30)
    states = []
    for block in out.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.split("\n")
        h, m, s, ms = map(int, re.match(r"(\d+):(\d+):(\d+),(\d+)", lines[1]).groups())
        start = h * 3600 + m * 60 + s + ms / 1000
        body = "\n".join(lines[2:])
        # one cue may hold several screen states (one per carriage return in the same SCC line)
        for state in re.findall(r"\{\\an\d\}(.*?)</font>", body, flags=re.S):
            states.append((start, [row for row in state.split("\n") if row.strip()]))
    return states


def rolled_rows(states) -> list[tuple[float, str]]:
    """The rows in the order they appeared at the bottom (roll-up screens overlap: each shows the rows before
    it and a new one), each with the time it was first shown."""
    rows: list[tuple[float, str]] = []
    for start, state in states:
        keep = 0
        for k in range(min(len(state), len(rows)), 0, -1):
            if [r for _, r in rows[-k:]] == state[:k]:
                keep = k
                break
        rows += [(start, row) for row in state[keep:]]
    return rows


@needs_ffmpeg
def test_spanish_and_portuguese_accents_round_trip(tmp_path):
    """Accented text through the encoder and FFmpeg's decoder comes back character for character (basic,
    special and extended characters; ¿ ¡ « » too)."""
    texts = ["¿Qué pasó? Ángel, niño, acción: ¡ya está!",
             "São Paulo, coração, você, ônibus, à tarde, pão e maçã.",
             "Güera, pingüino, «comillas», ÓSCAR Úrsula Íñigo Élite.",
             "Êxito, Ôlá, Ã Õ õ, àquele, é, fé, avô, pôr."]
    writer = SccWriter(tmp_path / "accents.scc")
    for i, text in enumerate(texts):
        writer.write(SimpleNamespace(is_final=True, text=text, end=1.0 + 3 * i, emitted_at=0.0))
    writer.close()
    assert writer.encoder.replaced == 0
    shown = [row for _, row in rolled_rows(decode_with_ffmpeg(tmp_path / "accents.scc", tmp_path))]
    expected = [" ".join(line) for text in texts for line in wrap_words(text.split(), 32)]
    assert shown == expected


@pytest.fixture(scope="module")
def four_sentences(speech_recordings, tmp_path_factory):
    """spk1_snt1-4 with 1.2 s of silence after each (about 16 s): four finals."""
    chosen = sorted((r for r in speech_recordings if r.id in {f"spk1_snt{i}" for i in range(1, 5)}),
                    key=lambda r: r.id)
    parts = []
    for r in chosen:
        audio = r.load()
        parts += [audio, np.zeros(int(1.2 * r.sample_rate), np.float32)]
    path = tmp_path_factory.mktemp("scc") / "four.wav"
    sf.write(path, np.concatenate(parts), chosen[0].sample_rate)
    return path, " ".join(r.text for r in chosen)


def check_scc_against_finals(scc_path, finals, writer_stats, tmp_path, ready_of) -> list[float]:
    """FFmpeg's decode of the SCC file against rtvoice's own finals: the words (WER <= 1 %), and the time each
    final's first row appears: at the time the final was ready, within one frame plus the transmission of any
    burst it waited for on the channel (and the timecode's own rounding, below).
    Returns the lag of each final's cue after the end of its speech (s)."""
    rows = rolled_rows(decode_with_ffmpeg(scc_path, tmp_path))
    decoded = " ".join(row for _, row in rows)
    own = " ".join(e["text"] for e in finals)
    assert wer(own, decoded) <= 0.01, (own, decoded)
    lags, index = [], 0
    # The decoder reads a timecode label, hh:mm:ss plus 33 ms a frame; a drop-frame label runs up to 2 frames
    # behind the real time before each minute's drop, and 29 frames of 33 ms are 11 ms short of 29 real ones.
    early = 2 * FRAME + 0.011
    late = FRAME * (1 + writer_stats["delayed_frames"]) + 0.011
    for event in finals:
        first_row = wrap_words(event["text"].split(), 32)[0]
        while rows[index][1] != " ".join(first_row):
            index += 1
        shown = rows[index][0]
        ready = ready_of(event)
        assert ready - early <= shown <= ready + late, (event, shown, ready)
        lags.append(shown - event["end"])
    return lags


@needs_ffmpeg
def test_caption_file_to_scc_decodes_back(four_sentences, tmp_path):
    """`rtvoice caption FILE --scc`: FFmpeg gives back the finals' words, each at the end of its speech (a file
    read as fast as possible is timed as if recognised at once)."""
    wav, _ = four_sentences
    run = RtvoiceRun("caption", str(wav), "--quiet", "--scc", str(tmp_path / "en.scc"), "--jsonl",
                     str(tmp_path / "en.jsonl"), "--stats", str(tmp_path / "s.json"), timeout_s=90)
    code, _, err = run.finish()
    assert code == 0, err
    finals = [e for e in map(json.loads, (tmp_path / "en.jsonl").read_text().splitlines()) if e["kind"] == "final"]
    assert len(finals) >= 3
    stats = read_stats(tmp_path / "s.json")["scc"]["en"]
    check_scc_against_finals(tmp_path / "en.scc", finals, stats, tmp_path, ready_of=lambda e: e["end"])


@needs_ffmpeg
def test_live_srt_feed_to_scc_in_two_languages(four_sentences, tmp_path):
    """The issue's case: `rtvoice caption srt://…?mode=listener --scc en.scc --scc es=es.scc --translate-to es`
    with FFmpeg calling in. Both files decode back through FFmpeg: English to rtvoice's finals (WER <= 1 %),
    Spanish to the translations; each cue at the time its text was ready (emitted_at on the feed's clock),
    within one frame plus the channel's transmission time. The lag from end of speech to the English cue is
    printed (docs/broadcast.md has the figures)."""
    wav, _ = four_sentences
    port = free_port(socket.SOCK_DGRAM)
    run = RtvoiceRun("caption", f"srt://127.0.0.1:{port}?mode=listener", "--reconnect-for", "1", "--quiet",
                     "--translate-to", "es", "--scc", str(tmp_path / "en.scc"), "--scc", f"es={tmp_path / 'es.scc'}",
                     "--jsonl", str(tmp_path / "en.jsonl"), "--jsonl", f"es={tmp_path / 'es.jsonl'}",
                     "--stats", str(tmp_path / "s.json"), timeout_s=90)
    run.wait_for("listening on")
    time.sleep(0.5)
    feed = sender(*padded(wav, tmp_path, lead_s=0.5, tail_s=0.5), "-c:a", "aac", "-f", "mpegts",
                  f"srt://127.0.0.1:{port}")
    try:
        code, _, err = run.finish()
    finally:
        stop(feed)
    assert code == 0, err
    stats = read_stats(tmp_path / "s.json")
    anchor = None  # the feed clock's anchor: emitted_at - anchor = stream seconds; recovered from a final
    english = [e for e in map(json.loads, (tmp_path / "en.jsonl").read_text().splitlines()) if e["kind"] == "final"]
    spanish = [e for e in map(json.loads, (tmp_path / "es.jsonl").read_text().splitlines())]
    assert len(english) >= 3 and len(spanish) == len(english)
    # latency = emitted_at - wall time of the speech end, so the speech end's wall time is emitted_at - latency:
    # the anchor is that minus the end's stream seconds
    anchor = english[0]["emitted_at"] - english[0]["latency"] - english[0]["end"]

    def ready(event):
        return max(event["emitted_at"] - anchor, event["end"])

    lags = check_scc_against_finals(tmp_path / "en.scc", english, stats["scc"]["en"], tmp_path, ready)
    check_scc_against_finals(tmp_path / "es.scc", spanish, stats["scc"]["es"], tmp_path, ready)
    assert stats["scc"]["es"]["replaced_characters"] == 0
    print(f"end of speech -> English SCC cue: {', '.join(f'{x:.2f}' for x in lags)} s")
