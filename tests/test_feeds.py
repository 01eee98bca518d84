"""Network feeds as sources (rtvoice.audio.network): real FFmpeg senders on loopback, ``rtvoice caption URL``
as a real process, its captions checked against the recordings' transcripts.

Each feed is a short real recording (2.3-3.2 s) with silence around it, sent in real time; a run takes 5-10 s
of wall time (the model loads, then the feed plays). A word error bound of 0.15 allows one word in 7: tiny.en
gives these sentences word for word from the files (0 errors), and through AAC/MP2 over every protocol 0 errors
were measured (6 protocols x 2 runs); the bound leaves room for one word heard differently on another CPU.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from feed_support import FFMPEG, RtvoiceRun, free_port, needs_ffmpeg, padded, read_stats, sender, stop, wer
from rtvoice.audio.network import FeedConfig, is_feed_url
from rtvoice.errors import FeedError

pytestmark = needs_ffmpeg
WER_BOUND = 0.15


@pytest.fixture(scope="module")
def sentences(speech_recordings):
    return {r.id: r for r in speech_recordings if r.id.startswith("spk1_")}


def caption(*args: str, timeout_s: float = 60.0) -> RtvoiceRun:
    """`rtvoice caption ARGS`; a feed that ends is waited for 1 s (--reconnect-for) unless ARGS say otherwise."""
    return RtvoiceRun("caption", "--reconnect-for", "1", *args, timeout_s=timeout_s)


def check_captions(run: RtvoiceRun, reference: str, stats_path) -> dict:
    code, out, err = run.finish()
    assert code == 0, err
    assert wer(reference, out) <= WER_BOUND, (out, err)
    stats = read_stats(stats_path)
    assert stats["source"]["feed_connects"] >= 1
    assert stats["source"]["dropped"] == 0
    return stats


# --- the URL and its FFmpeg command (no network) ----------------------------------------------------------------

def test_feed_urls_and_their_ffmpeg_options():
    assert is_feed_url("srt://127.0.0.1:9000?mode=listener") and is_feed_url("HTTPS://cdn/x/index.m3u8")
    assert not is_feed_url("talk.wav") and not is_feed_url("-") and not is_feed_url("file:///tmp/a.wav")
    rtmp = FeedConfig("rtmp://127.0.0.1:1935/live/key", listen=True, audio_track=1).ffmpeg_command()
    assert rtmp[rtmp.index("-listen") + 1] == "1" and rtmp[rtmp.index("-map") + 1] == "0:a:1"
    assert rtmp[rtmp.index("-ar") + 1] == "16000" and rtmp[rtmp.index("-ac") + 1] == "1"
    assert FeedConfig("srt://0.0.0.0:9000", listen=True).input_url() == "srt://0.0.0.0:9000?mode=listener"
    assert FeedConfig("srt://h:9000?latency=200000", listen=True).input_url().endswith("latency=200000&mode=listener")
    assert "-rtsp_flags" in FeedConfig("rtsp://127.0.0.1:8554/x", listen=True).ffmpeg_command()
    assert FeedConfig("http://h/live/index.m3u8").stall_timeout == 20.0  # a segment at a time
    assert FeedConfig("udp://127.0.0.1:5000").stall_timeout == 5.0
    with pytest.raises(FeedError, match="--listen works for"):
        FeedConfig("udp://127.0.0.1:5000", listen=True)
    with pytest.raises(FeedError, match="audio-track"):
        FeedConfig("srt://h:1", audio_track=-1)


# --- protocols ----------------------------------------------------------------------------------------------------

def test_srt_rtvoice_calls_an_ffmpeg_listener(sentences, tmp_path):
    """FFmpeg publishes as an SRT listener (MPEG-TS, AAC); rtvoice calls it, retrying until it is up."""
    rec = sentences["spk1_snt1"]
    port = free_port(socket.SOCK_DGRAM)
    run = caption(f"srt://127.0.0.1:{port}", "--stats", str(tmp_path / "s.json"))
    run.wait_for("connecting to")
    feed = sender(*padded(rec.path, tmp_path), "-c:a", "aac", "-f", "mpegts", f"srt://127.0.0.1:{port}?mode=listener")
    try:
        check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(feed)


def test_srt_rtvoice_listens_for_an_ffmpeg_caller(sentences, tmp_path):
    """rtvoice is the SRT listener (--listen adds mode=listener); FFmpeg calls it once it listens."""
    rec = sentences["spk1_snt2"]
    port = free_port(socket.SOCK_DGRAM)
    run = caption(f"srt://127.0.0.1:{port}", "--listen", "--stats", str(tmp_path / "s.json"))
    run.wait_for("listening on")
    time.sleep(0.5)  # FFmpeg binds the port
    feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-c:a", "aac", "-f", "mpegts", f"srt://127.0.0.1:{port}")
    try:
        check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(feed)


def test_rtmp_push_to_rtvoice_listening_48k_stereo(sentences, tmp_path):
    """FFmpeg pushes RTMP (FLV, AAC 48 kHz stereo, as OBS sends) to `rtvoice caption rtmp://…/live/key --listen`;
    FFmpeg's downmix and resampling to 16 kHz mono give the same words."""
    rec = sentences["spk1_snt3"]
    port = free_port()
    run = caption(f"rtmp://127.0.0.1:{port}/live/key", "--listen", "--stats", str(tmp_path / "s.json"))
    run.wait_for("listening on")
    time.sleep(0.5)  # FFmpeg binds the port
    feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-ar", "48000", "-ac", "2", "-c:a", "aac", "-f", "flv",
                  f"rtmp://127.0.0.1:{port}/live/key")
    try:
        stats = check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(feed)
    assert "a sender connected" in "\n".join(run.stderr_lines)
    assert stats["source"]["feed_ended"].startswith("gone for")  # the publisher's end: reconnect window, then end


def test_udp_mpeg_ts(sentences, tmp_path):
    """MPEG-TS (MP2 audio) over UDP to rtvoice's local port."""
    rec = sentences["spk1_snt4"]
    port = free_port(socket.SOCK_DGRAM)
    run = caption(f"udp://127.0.0.1:{port}", "--stall-timeout", "2", "--stats", str(tmp_path / "s.json"))
    run.wait_for("connecting to")
    time.sleep(0.5)  # FFmpeg binds the port
    feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-c:a", "mp2", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")
    try:
        check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(feed)


def test_hls_over_http(sentences, tmp_path):
    """HLS: FFmpeg's HLS muxer writes 1 s segments and the playlist, `python -m http.server` serves them; the
    playlist's end (#EXT-X-ENDLIST) ends the input without a reconnection."""
    rec = sentences["spk1_snt5"]
    site = tmp_path / "site"
    site.mkdir()
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(rec.path), "-af",
                    "adelay=500:all=1,apad=pad_dur=1.5", "-c:a", "aac", "-f", "hls", "-hls_time", "1",
                    "-hls_playlist_type", "vod", str(site / "index.m3u8")], check=True, timeout=30)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = caption(f"http://127.0.0.1:{port}/index.m3u8", "--stats", str(tmp_path / "s.json"))
        stats = check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(server)
    assert stats["source"]["feed_ended"] == "the playlist ended" and stats["source"]["feed_drops"] == 0


def test_rtsp_push_to_rtvoice_listening(sentences, tmp_path):
    """FFmpeg pushes RTSP (RTP over TCP, AAC) to rtvoice listening (-rtsp_flags listen)."""
    rec = sentences["spk1_snt6"]
    port = free_port()
    run = caption(f"rtsp://127.0.0.1:{port}/live", "--listen", "--stats", str(tmp_path / "s.json"))
    run.wait_for("listening on")
    time.sleep(0.5)  # FFmpeg binds the port
    feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp",
                  f"rtsp://127.0.0.1:{port}/live")
    try:
        check_captions(run, rec.text, tmp_path / "s.json")
    finally:
        stop(feed)


# --- faults ---------------------------------------------------------------------------------------------------------

def test_video_only_feed_is_one_line_and_exit_2(tmp_path):
    """A feed with no audio track (FFmpeg's test pattern over UDP, MPEG-TS): one `rtvoice: error:` line naming
    what the feed has, exit 2, no traceback, no wait for the connect timeout."""
    port = free_port(socket.SOCK_DGRAM)
    run = caption(f"udp://127.0.0.1:{port}", "--connect-timeout", "20")
    run.wait_for("connecting to")
    time.sleep(0.5)
    feed = sender("-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "30", "-c:v", "mpeg2video",
                  "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")
    t0 = time.monotonic()
    try:
        code, out, err = run.finish()
    finally:
        stop(feed)
    errors = [line for line in err.splitlines() if line.startswith("rtvoice: error:")]
    assert code == 2 and len(errors) == 1, err
    assert "no audio track" in errors[0] and "Video" in errors[0], errors
    assert "Traceback" not in err and time.monotonic() - t0 < 15


def test_feed_that_never_starts_is_one_line_and_exit_2():
    """Nobody at the other end (an SRT caller to a closed port): retried until --connect-timeout, then one line."""
    run = caption(f"srt://127.0.0.1:{free_port(socket.SOCK_DGRAM)}", "--connect-timeout", "2")
    code, out, err = run.finish()
    errors = [line for line in err.splitlines() if line.startswith("rtvoice: error:")]
    assert code == 2 and len(errors) == 1 and "no audio from srt://" in errors[0], err
    assert "Traceback" not in err


def test_dropped_feed_reconnects_and_keeps_the_captions(sentences, tmp_path):
    """RTMP publisher killed (SIGKILL) after its first sentence, a new one 2 s later with the second: rtvoice
    announces the drop, listens again, counts the gap with its duration, and captions both sentences (the first
    written before the drop is not lost). The gap is filled with silence on the timeline: the second caption
    starts after the first by at least the gap."""
    first, second = sentences["spk1_snt1"], sentences["spk1_snt2"]
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/key"
    run = caption(url, "--listen", "--reconnect-for", "10", "--timestamps", "--stats", str(tmp_path / "s.json"),
                  "--jsonl", str(tmp_path / "c.jsonl"))
    run.wait_for("listening on")
    time.sleep(0.5)  # FFmpeg binds the port
    feed = sender(*padded(first.path, tmp_path, lead_s=0.5, tail_s=30), "-c:a", "aac", "-f", "flv", url)
    try:
        time.sleep(0.5 + first.duration_s + 1.5)
        feed.send_signal(signal.SIGKILL)
        run.wait_for("feed lost")
        time.sleep(2.0)
        feed = sender(*padded(second.path, tmp_path, lead_s=0.5, tail_s=1.0), "-c:a", "aac", "-f", "flv", url)
        run.wait_for("feed back after")
        feed.wait(15)
        # the second publisher's end is a drop too: rtvoice listens again, and ends 10 s later; stop it sooner
        run.wait_for("feed lost")
        run.proc.send_signal(signal.SIGINT)
        code, out, err = run.finish()
    finally:
        stop(feed)
    assert code == 0, err
    stats = read_stats(tmp_path / "s.json")["source"]
    assert stats["feed_drops"] == 2 and stats["feed_gaps"] == 1, stats
    assert 2.0 <= stats["feed_gap_seconds"] <= 12.0, stats  # 2 s waited, plus FFmpeg's start, at most 10 s more
    assert stats["gaps"][0]["duration_s"] == stats["feed_gap_seconds"]
    finals = [e for e in map(json.loads, (tmp_path / "c.jsonl").read_text().splitlines()) if e["kind"] == "final"]
    text = " ".join(e["text"] for e in finals)
    assert wer(first.text + " " + second.text, text) <= WER_BOUND, (text, err)
    first_end = max(e["end"] for e in finals if wer(first.text, e["text"]) <= 0.5)
    second_start = min(e["start"] for e in finals if wer(second.text, e["text"]) <= 0.5)
    assert second_start - first_end >= stats["feed_gap_seconds"], (finals, stats)
