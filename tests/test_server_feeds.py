"""`rtvoice serve` pulling a network feed per stream (config "url"): a real `rtvoice serve` process on loopback,
real FFmpeg senders publishing recordings in real time, real WebSocket clients (rtvoice.server.client).

The captions are checked against the recordings' transcripts with the bound of tests/test_feeds.py: a word
error rate of 0.15 allows one word in 7; tiny.en gives these two sentences word for word through AAC over SRT
with the server's FFmpeg as the caller (0 errors in 3 runs here), so the bound leaves room for one word heard
differently on another CPU. The gap between the two publishers measured 2.5-2.8 s (1 s waited, FFmpeg's start
and the 0.5-1 s back-off); its bound of 1-15 s holds on a machine several times slower. The server's FFmpeg children are found in /proc (every process whose parent
is the server), so an FFmpeg left running after its client went away fails the test.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest

from feed_support import RtvoiceRun, free_port, needs_ffmpeg, padded, read_stats, sender, stop, wer
from process_support import children
from rtvoice.server.client import ServerError, StreamClient
from server_support import get, get_json

pytestmark = needs_ffmpeg
WER_BOUND = 0.15


@pytest.fixture(scope="module")
def sentences(speech_recordings):
    return {r.id: r for r in speech_recordings if r.id.startswith("spk1_")}


@pytest.fixture(scope="module")
def serve():
    """`rtvoice serve --port 0` as a process; yields (its RtvoiceRun, ws:// URL, http:// base)."""
    run = RtvoiceRun("serve", "--port", "0", "--max-streams", "3", timeout_s=600)
    line = run.wait_for("ws://127.0.0.1:", timeout_s=60)
    base = re.search(r"127\.0\.0\.1:\d+", line).group(0)
    yield run, f"ws://{base}/v1/stream", f"http://{base}"
    run.proc.terminate()
    run.proc.wait(30)


def ffmpeg_children(pid: int) -> list[int]:
    """The FFmpeg processes whose parent is `pid`."""
    return children(pid, b"ffmpeg")


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def events_until(client: StreamClient, stop_when, timeout_s: float) -> list[dict]:
    """Events as they come until `stop_when(event)` is true for one (included) or the stream closes."""
    taken = []
    for event in client.events(timeout=timeout_s):
        taken.append(event)
        if stop_when(event):
            break
    return taken


def test_an_unsupported_url_or_a_feed_that_never_starts_is_one_error_and_the_server_goes_on(serve):
    """A file:// URL and a malformed one are refused with bad_config before anything runs; an SRT feed with
    nobody at the other end is retried for its connect_timeout, then one feed_unavailable error (close 4502):
    no stats, no FFmpeg left; audio sent to a pulled stream is bad_frame; and the server still serves."""
    run, url, http = serve
    for bad, words in (("file:///etc/passwd", "must be a feed FFmpeg reads"), ("srt://127.0.0.1:x", "malformed")):
        with pytest.raises(ServerError) as refused:
            StreamClient(url, feed={"url": bad}).connect()
        assert refused.value.code == "bad_config" and words in refused.value.reason, refused.value
        assert refused.value.close_code == 4400
    dead = f"srt://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    with StreamClient(url, feed={"url": dead, "connect_timeout": 1.5}) as client:
        assert client.ready["feed"]["url"] == dead
        started = time.monotonic()
        events = []
        with pytest.raises(ServerError) as failed:
            for event in client.events(timeout=30):
                events.append(event)
    assert failed.value.code == "feed_unavailable" and failed.value.close_code == 4502, failed.value
    assert "no audio from srt://" in failed.value.reason and time.monotonic() - started < 15
    assert not [e for e in events if e["type"] in ("stats", "error")], events
    assert ffmpeg_children(run.proc.pid) == []
    with StreamClient(url, feed={"url": dead, "connect_timeout": 60}) as client:  # audio sent to a pulled stream
        client.send_audio(b"\0" * 64)
        with pytest.raises(ServerError) as refused:
            list(client.events(timeout=10))
    assert refused.value.code == "bad_frame" and "comes from its url" in refused.value.reason, refused.value
    assert wait_until(lambda: ffmpeg_children(run.proc.pid) == [], 5.0)
    assert run.proc.poll() is None and get_json(http + "/healthz")["active_streams"] == 0


def test_captions_of_a_pulled_srt_feed_with_a_drop_and_the_gap_reported(serve, sentences, tmp_path):
    """FFmpeg publishes a sentence as an SRT listener and ends; a second FFmpeg publishes the next sentence on
    the same port a second later. The server calls it (retrying until it is up), captions both, sends a
    "lost" feed event at the first end and a "back" event with the gap; the end message stops the feed, and the
    stats count the connection, the drop and the gap."""
    run, url, http = serve
    first, second = sentences["spk1_snt1"], sentences["spk1_snt2"]
    port = free_port(socket.SOCK_DGRAM)
    publish = f"srt://127.0.0.1:{port}?mode=listener"
    feed = sender(*padded(first.path, tmp_path, lead_s=1.0, tail_s=1.0), "-c:a", "aac", "-f", "mpegts", publish)
    try:
        with StreamClient(url, stream="pulled", feed={"url": f"srt://127.0.0.1:{port}", "reconnect_for": 20}) \
                as client:
            assert client.ready["feed"] == {"url": f"srt://127.0.0.1:{port}", "audio_track": 0, "listen": False}
            events = events_until(client, lambda e: e["type"] == "feed" and e["state"] == "lost", 30)
            feed.wait(10)
            time.sleep(1.0)
            feed = sender(*padded(second.path, tmp_path, lead_s=0.5, tail_s=1.5), "-c:a", "aac", "-f", "mpegts",
                          publish)
            events += events_until(client, lambda e: e["type"] == "feed" and e["state"] == "back", 30)
            events += events_until(client, lambda e: e["type"] == "final" and wer(second.text, e["text"]) <= 0.5, 30)
            client.end()
            events += list(client.events(timeout=60))
    finally:
        stop(feed)
    states = [e["state"] for e in events if e["type"] == "feed"]
    assert states[:3] == ["connected", "lost", "back"], states
    back = next(e for e in events if e["type"] == "feed" and e["state"] == "back")
    assert back["gaps"] == 1 and 1.0 <= back["gap_s"] <= 15.0, back  # 1 s waited, plus FFmpeg's start and back-off
    text = " ".join(e["text"] for e in events if e["type"] == "final")
    assert wer(first.text + " " + second.text, text) <= WER_BOUND, text
    stats = events[-1]
    assert stats["type"] == "stats", events[-3:]
    source = stats["source"]
    assert source["feed_connects"] == 2 and source["feed_drops"] == 1 and source["feed_gaps"] == 1, source
    assert source["gaps"][0]["duration_s"] == back["gap_s"] and source["dropped"] == 0
    assert wait_until(lambda: ffmpeg_children(run.proc.pid) == [], 5.0)


def test_a_client_that_goes_away_stops_the_servers_ffmpeg(serve, sentences, tmp_path):
    """MPEG-TS over UDP, sent in a loop; the client disconnects once captions flow: the server's FFmpeg (its
    child, seen in /proc) is gone within 5 s, the stream is counted as disconnected and the server goes on."""
    run, url, http = serve
    rec = sentences["spk1_snt3"]
    port = free_port(socket.SOCK_DGRAM)
    feed = None
    try:
        client = StreamClient(url, feed={"url": f"udp://127.0.0.1:{port}"})
        client.connect()
        time.sleep(0.5)  # the server's FFmpeg binds the port
        feed = sender("-stream_loop", "-1", *padded(rec.path, tmp_path, lead_s=0.5, tail_s=0.5), "-c:a", "mp2",
                      "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")
        events_until(client, lambda e: e["type"] == "final", 30)
        assert len(ffmpeg_children(run.proc.pid)) == 1
        client.close()
        gone_at = time.monotonic()
        assert wait_until(lambda: ffmpeg_children(run.proc.pid) == [], 5.0), ffmpeg_children(run.proc.pid)
        assert time.monotonic() - gone_at < 5.0
    finally:
        if feed is not None:
            stop(feed)
    assert wait_until(lambda: get_json(http + "/healthz")["active_streams"] == 0, 10.0)
    metrics = get(http + "/metrics")[1]
    assert re.search(r'rtvoice_streams_total\{outcome="disconnected"\} [1-9]', metrics), metrics
    assert run.proc.poll() is None and os.path.exists(f"/proc/{run.proc.pid}")


def test_rtvoice_stream_pull_has_the_server_read_the_feed(serve, sentences, tmp_path):
    """`rtvoice stream WS UDP_URL --pull`: the server's FFmpeg receives the MPEG-TS (MP2) on the UDP port, the
    client prints its captions and writes its stats; the feed's end is a drop, then --reconnect-for 1 ends it."""
    run, url, http = serve
    rec = sentences["spk1_snt4"]
    port = free_port(socket.SOCK_DGRAM)
    client = RtvoiceRun("stream", url, f"udp://127.0.0.1:{port}", "--pull", "--reconnect-for", "1",
                        "--stall-timeout", "2", "--stats", str(tmp_path / "s.json"), timeout_s=60)
    client.wait_for("the server pulls udp://")
    time.sleep(0.5)  # the server's FFmpeg binds the port
    feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-c:a", "mp2", "-f", "mpegts",
                  f"udp://127.0.0.1:{port}?pkt_size=1316")
    try:
        code, out, err = client.finish()
    finally:
        stop(feed)
    assert code == 0, err
    assert wer(rec.text, out) <= WER_BOUND, (out, err)
    assert "server feed connected" in err and "server feed ended" in err, err
    source = read_stats(tmp_path / "s.json")["source"]
    assert source["feed_connects"] == 1 and source["feed_ended"].startswith("gone for"), source
    bad = RtvoiceRun("stream", url, str(rec.path), "--pull", timeout_s=30).finish()
    assert bad[0] == 2 and "--pull needs a feed URL" in bad[2] and "Traceback" not in bad[2], bad


def test_serve_feed_pulls_from_the_start_for_viewers_and_files(sentences, tmp_path):
    """`rtvoice serve --feed studio=udp://…`: the server pulls the feed from its start with no client; an overlay
    viewer (/v1/captions?stream=studio) gets its finals, DIR/studio.srt is written; SIGINT stops the server
    (exit 0) and its FFmpeg with it (no process left reading that URL)."""
    import json
    import signal

    import srt
    from websockets.sync.client import connect

    rec = sentences["spk1_snt5"]
    port = free_port(socket.SOCK_DGRAM)
    feed_url = f"udp://127.0.0.1:{port}"
    run = RtvoiceRun("serve", "--port", "0", "--feed", f"studio={feed_url}", "--out", str(tmp_path / "out"),
                     timeout_s=90)
    base = re.search(r"127\.0\.0\.1:\d+", run.wait_for("; feed studio", timeout_s=60)).group(0)
    feed = None
    try:
        assert get_json(f"http://{base}/healthz")["active_streams"] == 1
        finals = []
        with connect(f"ws://{base}/v1/captions?stream=studio", open_timeout=10) as viewer:
            feed = sender(*padded(rec.path, tmp_path, lead_s=0.5), "-c:a", "mp2", "-f", "mpegts",
                          f"{feed_url}?pkt_size=1316")
            deadline = time.monotonic() + 30
            while wer(rec.text, " ".join(finals)) > WER_BOUND and time.monotonic() < deadline:
                event = json.loads(viewer.recv(timeout=30))
                if event["type"] == "final":
                    finals.append(event["text"])
        assert wer(rec.text, " ".join(finals)) <= WER_BOUND, finals
        run.proc.send_signal(signal.SIGINT)
        code, out, err = run.finish()
    finally:
        if feed is not None:
            stop(feed)
        if run.proc.poll() is None:
            run.proc.kill()
    assert code == 0 and "Traceback" not in err, err
    cues = srt.parse((tmp_path / "out" / "studio.srt").read_text())
    assert wer(rec.text, " ".join(c.content.replace("\n", " ") for c in cues)) <= WER_BOUND
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and feed_url.encode() in _cmdline(p)
            and b"pipe:1" in _cmdline(p)]
    assert left == [], left


def _cmdline(process: Path) -> bytes:
    try:
        return (process / "cmdline").read_bytes()
    except OSError:
        return b""
