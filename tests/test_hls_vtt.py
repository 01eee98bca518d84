"""The live HLS WebVTT subtitle rendition (rtvoice.captions.hls_vtt, ``rtvoice caption --hls-vtt [LANG=]DIR``).

The playlist's sliding window and the segment cutting are checked in Python against the HLS rules; the
rendition rtvoice writes for a real recording is read back by independent readers: FFmpeg's HLS demuxer
(``ffprobe``, ``ffmpeg -i subtitles.m3u8 out.srt``) and a real player, hls.js 1.7.4 (npm, unpacked by
``make``: scripts/setup_npm_hlsjs.sh) in Debian's headless chromium, playing a programme FFmpeg's HLS muxer
made of test-pattern video and the same recording, with the rendition joined to it by a master playlist.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from browser_support import headless_chromium
from feed_support import FFMPEG, RtvoiceRun, free_port, needs_ffmpeg, padded, read_stats, sender, stop, wer
from rtvoice.captions.hls_vtt import MASTER_SNIPPET, PLAYLIST, HlsVttConfig, HlsVttWriter

FFPROBE = shutil.which("ffprobe")
FRAME_S = 1 / 25  # the test programme's video frame (testsrc at 25 fps)
HLSJS = Path(sys.prefix) / "share" / "rtvoice" / "hls.js" / "dist" / "hls.min.js"


def final(text: str, start: float, end: float, emitted_at: float = 0.0):
    """A final caption as the recognizer gives it, without word times (its cue spans start..end)."""
    return SimpleNamespace(is_final=True, text=text, words=(), start=start, end=end, emitted_at=emitted_at)


def read_playlist(path: Path) -> tuple[dict, list[tuple[str, float]]]:
    """(tags, [(segment URI, EXTINF duration)]) of a media playlist."""
    tags, segments, duration = {}, [], None
    lines = path.read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line.startswith("#"):
            name, _, value = line[1:].partition(":")
            tags[name] = value
        elif line:
            segments.append((line, duration))
    return tags, segments


def read_segment(path: Path) -> tuple[str, list[tuple[float, float, str]]]:
    """(the X-TIMESTAMP-MAP line, [(start s, end s, text)]) of a WebVTT segment."""
    text = path.read_text()
    assert text.startswith("WEBVTT\n")
    mapping = re.search(r"^X-TIMESTAMP-MAP=(.*)$", text, re.M).group(1)

    def seconds(stamp):
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = [(seconds(a), seconds(b), body.strip()) for a, b, body in
            re.findall(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(.*?)(?:\n\n|\Z)", text, re.M | re.S)]
    return mapping, cues


# --- the playlist and the segments, in Python ----------------------------------------------------------------

def test_the_window_slides_and_the_media_sequence_counts_the_segments_gone(tmp_path):
    """Window 3, 2 s segments, a file's finals: after a final ready at 12.5 s, segments 0-5 are out, the playlist
    lists 3, 4, 5 with MEDIA-SEQUENCE 3; a segment slid out is kept one playlist length (3 segments) more, then
    deleted; the end lists the last (short) segment and #EXT-X-ENDLIST."""
    writer = HlsVttWriter(tmp_path / "en", "en", config=HlsVttConfig(window=3))
    tags, segments = read_playlist(tmp_path / "en" / PLAYLIST)
    assert tags["EXT-X-TARGETDURATION"] == "2" and segments == [] and "EXT-X-ENDLIST" not in tags
    writer.write(final("one", 0.5, 1.0))
    writer.write(final("two", 11.0, 12.5))
    tags, segments = read_playlist(tmp_path / "en" / PLAYLIST)
    assert tags["EXT-X-MEDIA-SEQUENCE"] == "3"
    assert segments == [("seg-00003.vtt", 2.0), ("seg-00004.vtt", 2.0), ("seg-00005.vtt", 2.0)]
    on_disk = sorted(p.name for p in (tmp_path / "en").glob("seg-*.vtt"))
    assert on_disk == [f"seg-{n:05d}.vtt" for n in range(6)]  # 0-2 slid out, not yet a playlist length ago
    writer.stream_end = lambda: 15.2  # the audio ran on to 15.2 s, the last cue to 13.5 s
    writer.close()
    tags, segments = read_playlist(tmp_path / "en" / PLAYLIST)
    assert "EXT-X-ENDLIST" in tags and tags["EXT-X-MEDIA-SEQUENCE"] == "5"
    assert segments == [("seg-00005.vtt", 2.0), ("seg-00006.vtt", 2.0), ("seg-00007.vtt", 1.2)]
    assert sorted(p.name for p in (tmp_path / "en").glob("seg-*.vtt")) == [name for name, _ in segments]
    assert not list((tmp_path / "en").glob(".*"))  # no temporary file left behind
    assert writer.stats()["segments"] == 8 and writer.stats()["late_cues"] == 0


def test_a_cue_across_segment_boundaries_is_in_each_segment_with_the_same_times(tmp_path):
    """A final of 2.5-5.5 s from a file is shown from the end of its speech for as long as it was spoken:
    5.5-8.5 s, in segments 2, 3 and 4 ([4, 6), [6, 8), [8, 10)), the same cue in each; every segment maps
    LOCAL 0 to MPEG-TS 126000 (1.4 s at 90 kHz); the segments before and after it are empty but written."""
    writer = HlsVttWriter(tmp_path / "en", "en", config=HlsVttConfig(window=0))
    writer.write(final("a caption that crosses two segment boundaries on its way", 2.5, 5.5))
    writer.stream_end = lambda: 11.0
    writer.close()
    tags, segments = read_playlist(tmp_path / "en" / PLAYLIST)
    assert tags["EXT-X-PLAYLIST-TYPE"] == "EVENT" and tags["EXT-X-MEDIA-SEQUENCE"] == "0"
    assert [name for name, _ in segments] == [f"seg-{n:05d}.vtt" for n in range(6)]
    cue = (5.5, 8.5, "a caption that crosses two segment\nboundaries on its way")  # two lines of <= 42
    for n, (name, _) in enumerate(segments):
        mapping, cues = read_segment(tmp_path / "en" / name)
        assert mapping == "MPEGTS:126000,LOCAL:00:00:00.000"
        assert cues == ([cue] if n in (2, 3, 4) else [])
    assert writer.stats()["cue_after_speech_end_s"]["max"] == pytest.approx(0.5)  # segment 2 out at 6 s


def test_a_cue_waits_for_the_one_before_only_until_it_could_be_read(tmp_path):
    """A 6.5 s sentence (a file: shown from its end, 7.0 s, until 13.5 s) then a short one ending at 8.5 s: the
    short one starts when the long one's 40 characters have been read at 17 a second (7.0 + 2.35 s), not at
    13.5 s; the long one stays (players stack them). A third, ready while the short one (under a second long)
    is shown, waits for its end. Before, every cue waited for the one before to end (HLS p95 3.88 s on
    dev_long against SCC's 0.83 s)."""
    writer = HlsVttWriter(tmp_path / "en", "en", config=HlsVttConfig(window=0))
    writer.write(final("the first sentence runs on for a while", 0.5, 7.0))
    writer.write(final("then a short one", 8.0, 8.5))
    writer.write(final("and more", 9.0, 9.6))
    writer.stream_end = lambda: 14.0
    writer.close()
    cues = sorted({cue for n in range(7) for cue in read_segment(tmp_path / "en" / f"seg-{n:05d}.vtt")[1]})
    long_read = len("the first sentence runs on for a while") / 17
    assert cues == [(7.0, 13.5, "the first sentence runs on for a while"),
                    (pytest.approx(7.0 + long_read, abs=1e-3), pytest.approx(7.5 + long_read, abs=1e-3),
                     "then a short one"),
                    (pytest.approx(7.5 + long_read, abs=1e-3), pytest.approx(8.1 + long_read, abs=1e-3),
                     "and more")]


def test_the_cues_of_a_long_final_follow_at_reading_pace(tmp_path):
    """A 12 s final (two cues of two lines) is all known at its end: its second cue comes once the first could
    be read at 17 characters a second, not 6 s later as it was spoken, and the first ends there (no stacking
    within a final); the last lasts as long as it was spoken."""
    text = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty twenty-one twenty-two")
    writer = HlsVttWriter(tmp_path / "en", "en", config=HlsVttConfig(window=0))
    writer.write(final(text, 1.0, 13.0))
    writer.stream_end = lambda: 20.0
    writer.close()
    cues = sorted({cue for n in range(10) for cue in read_segment(tmp_path / "en" / f"seg-{n:05d}.vtt")[1]})
    assert len(cues) == 2 and " ".join(c[2].replace("\n", " ") for c in cues) == text
    first_read = len(cues[0][2].replace("\n", "")) / 17
    assert cues[0][:2] == (13.0, pytest.approx(13.0 + first_read, abs=1e-3))
    assert cues[1][0] == cues[0][1] and cues[1][1] - cues[1][0] > first_read  # spoken: ~5 s


def test_live_segments_keep_pace_and_a_late_cue_moves_to_the_next_segment(tmp_path):
    """Live (the stream's clock given): segments are written as the clock passes their ends, empty ones too;
    a final ready at 5.0 s that arrives when the clock says 7.0 (segment [4, 6) already out) starts at 6.0 s,
    in segment 3, counted as late."""
    now = [0.0]
    writer = HlsVttWriter(tmp_path / "es", "es", stream_time=lambda wall: wall, wall_clock=lambda: now[0],
                          config=HlsVttConfig(window=0, tick_s=0.01))
    now[0] = 7.0
    deadline = time.monotonic() + 5
    while not (tmp_path / "es" / "seg-00002.vtt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [read_segment(tmp_path / "es" / f"seg-{n:05d}.vtt")[1] for n in range(3)] == [[], [], []]
    assert not (tmp_path / "es" / "seg-00003.vtt").exists()  # [6, 8) has not ended
    writer.write(final("tarde", 4.0, 4.5, emitted_at=5.0))
    writer.close()
    assert read_segment(tmp_path / "es" / "seg-00003.vtt")[1] == [(6.0, 6.5, "tarde")]
    assert writer.stats()["late_cues"] == 1


@pytest.mark.parametrize("flags, message", [
    (["--hls-vtt", "x", "--hls-segment", "0.1"], "the HLS segment duration must be 0.5-30 s, got 0.1"),
    (["--hls-vtt", "x", "--hls-window", "-1"], "the HLS playlist window must be >= 0 segments, got -1"),
    (["--hls-vtt", "fr=x"], "--hls-vtt fr=x: no captions in 'fr' (add --translate-to fr)"),
    (["--hls-vtt", "x", "--hls-vtt", "en=y"], "--hls-vtt given twice for 'en' captions"),
])
def test_bad_hls_flags_are_one_line_errors(tmp_path, flags, message):
    run = RtvoiceRun("caption", str(tmp_path / "missing.wav"), *flags)
    code, _, err = run.finish()
    assert code == 2 and err.strip().splitlines() == [f"rtvoice: error: {message}"], err


# --- a real recording, read back by FFmpeg and played by hls.js --------------------------------------------------

@pytest.fixture(scope="module")
def programme(speech_recordings, tmp_path_factory):
    """spk1_snt1-4 with 1.2 s of silence after each (about 16 s): `rtvoice caption` writes the English and
    Spanish renditions into ROOT/en and ROOT/es, FFmpeg's HLS muxer the programme (testsrc video, the recording
    as AAC, 2 s MPEG-TS segments) into ROOT/programme, and ROOT/master.m3u8 joins them (the renditions' lines
    from their subtitles-master.txt)."""
    root = tmp_path_factory.mktemp("hls")
    chosen = sorted((r for r in speech_recordings if r.id in {f"spk1_snt{i}" for i in range(1, 5)}),
                    key=lambda r: r.id)
    parts = []
    for r in chosen:
        parts += [r.load(), np.zeros(int(1.2 * r.sample_rate), np.float32)]
    wav = root / "four.wav"
    sf.write(wav, np.concatenate(parts), chosen[0].sample_rate)
    (root / "programme").mkdir()
    muxer = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-i", str(wav), "-shortest", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
         "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "hls",
         "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_filename", str(root / "programme" / "v%03d.ts"),
         str(root / "programme" / "index.m3u8")], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = RtvoiceRun("caption", str(wav), "--quiet", "--translate-to", "es", "--hls-vtt", str(root / "en"),
                     "--hls-vtt", f"es={root / 'es'}", "--hls-window", "0", "--jsonl", str(root / "en.jsonl"),
                     "--jsonl", f"es={root / 'es.jsonl'}", "--stats", str(root / "stats.json"), timeout_s=90)
    code, _, err = run.finish()
    assert code == 0, err
    assert muxer.wait(60) == 0, muxer.stderr.read().decode()
    media = [(root / language / MASTER_SNIPPET).read_text().splitlines()[-1] for language in ("en", "es")]
    (root / "master.m3u8").write_text("\n".join(
        ["#EXTM3U", *media, '#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.42c00d,mp4a.40.2",SUBTITLES="subs"',
         "programme/index.m3u8", ""]))
    finals = {language: [e for e in map(json.loads, (root / f"{language}.jsonl").read_text().splitlines())
                         if e["kind"] == "final"] for language in ("en", "es")}
    return SimpleNamespace(root=root, finals=finals, stats=json.loads((root / "stats.json").read_text()))


def written_cues(folder: Path) -> list[tuple[float, float, str]]:
    """Every cue of a rendition once (a cue across a boundary is in each of its segments), in time order."""
    _, segments = read_playlist(folder / PLAYLIST)
    cues = []
    for name, _ in segments:
        for cue in read_segment(folder / name)[1]:
            if cue not in cues:
                cues.append(cue)
    return cues


@needs_ffmpeg
def test_rendition_matches_the_finals_and_ffmpeg_reads_it(programme, tmp_path):
    """The written cues hold rtvoice's finals (English) and translations (Spanish) word for word, each shown
    from the end of its speech; FFmpeg's HLS demuxer sees one WebVTT stream and `ffmpeg -i subtitles.m3u8
    out.srt` gives the same text back (WER <= 1 %, as the SCC read-back)."""
    for language in ("en", "es"):
        folder = programme.root / language
        cues = written_cues(folder)
        finals = programme.finals[language]
        assert len(finals) >= 3
        assert " ".join(c[2].replace("\n", " ") for c in cues) == " ".join(e["text"].strip() for e in finals)
        starts = [c[0] for c in cues]
        assert starts == sorted(starts)
        stats = programme.stats["hls_vtt"][language]
        assert stats["cues"] == len(cues) and stats["late_cues"] == 0
        assert stats["cue_after_speech_end_s"]["max"] <= 2.0 + 1e-6  # a file: out at most a segment after it
        probe = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of",
                                "json", str(folder / PLAYLIST)], capture_output=True, text=True, timeout=30)
        assert json.loads(probe.stdout)["streams"] == [{"codec_name": "webvtt", "codec_type": "subtitle"}], probe
        out = tmp_path / f"{language}.srt"
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(folder / PLAYLIST), str(out)],
                       check=True, timeout=30)
        blocks = out.read_text(encoding="utf-8").strip().split("\n\n")
        read_back = []
        for block in blocks:
            text = " ".join(block.split("\n")[2:])
            if not read_back or read_back[-1] != text:  # the same cue repeated in the next segment
                read_back.append(text)
        assert wer(" ".join(e["text"] for e in finals), " ".join(read_back)) <= 0.01, read_back


@pytest.fixture(scope="module")
def browser():
    if not HLSJS.is_file():
        pytest.fail(f"{HLSJS} is missing: make unpacks hls.js (scripts/setup_npm_hlsjs.sh)")
    driver = headless_chromium("--autoplay-policy=no-user-gesture-required")
    yield driver
    driver.quit()


PLAYER_PAGE = """<!doctype html>
<html><body><video id="video" muted playsinline></video>
<script src="hls.min.js"></script>
<script>
// hls.js plays master.m3u8 with the subtitle track of the language in the page's query enabled; the test reads
// the cues hls.js gave that TextTrack, once every subtitle fragment is processed.
const lang = new URLSearchParams(location.search).get("lang");
const state = window.player = {fragments: 0, failed: 0, errors: [], tracks: null, selected: null};
const video = document.getElementById("video");
const hls = new Hls({enableWebVTT: true, renderTextTracksNatively: true, subtitleDisplay: true});
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(error => state.errors.push("play: " + error)));
hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (event, data) => {
  state.tracks = data.subtitleTracks.map(t => t.lang);
  // chosen once hls.js has made its own choice (none: no rendition is DEFAULT=YES)
  setTimeout(() => { hls.subtitleTrack = state.tracks.indexOf(lang); }, 0);
});
hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (event, data) => { state.selected = data.id; });
hls.on(Hls.Events.SUBTITLE_FRAG_PROCESSED, (event, data) => {
  if (data.success) { state.fragments += 1; } else { state.failed += 1; }
});
hls.on(Hls.Events.ERROR, (event, data) => state.errors.push(data.details + (data.fatal ? " (fatal)" : "")));
hls.loadSource("master.m3u8");
hls.attachMedia(video);
window.cuesOf = (language) => {
  for (const track of video.textTracks) {
    if (track.language === language && track.cues) {
      return Array.from(track.cues).map(c => [c.startTime, c.endTime, c.text]);
    }
  }
  return null;
};
</script></body></html>
"""


@pytest.fixture(scope="module")
def served(programme):
    """The programme's folder on a loopback HTTP server, with the player page and hls.min.js beside it."""
    (programme.root / "player.html").write_text(PLAYER_PAGE)
    shutil.copyfile(HLSJS, programme.root / "hls.min.js")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(programme.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_ffmpeg
@pytest.mark.parametrize("language", ["en", "es"])
def test_hlsjs_in_chromium_shows_the_cues_at_their_times(programme, served, browser, language):
    """hls.js, given the master playlist, lists both renditions, loads the chosen one's segments (joining them
    to the programme's PTS through X-TIMESTAMP-MAP) and gives its TextTrack the written cues: the same text
    (WER <= 1 % against rtvoice's own finals), once each (the cues repeated across segments are merged), and
    each cue within one video frame (40 ms) of its written times, which needs MPEG-TS 126000 to be where the
    programme starts (FFmpeg's muxer: 1.4 s)."""
    browser.get(f"{served}/player.html?lang={language}")
    _, segments = read_playlist(programme.root / language / PLAYLIST)
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline:
        state = browser.execute_script("return window.player")
        if state["fragments"] + state["failed"] >= len(segments):
            break
        time.sleep(0.1)
    assert state["tracks"] == ["en", "es"] and state["failed"] == 0, state
    assert not [error for error in state["errors"] if "fatal" in error], state
    assert state["fragments"] == len(segments), state
    shown = browser.execute_script("return window.cuesOf(arguments[0])", language)
    written = written_cues(programme.root / language)
    assert len(shown) == len(written), (shown, written)
    finals = " ".join(e["text"] for e in programme.finals[language])
    assert wer(finals, " ".join(text for _, _, text in shown)) <= 0.01, shown
    for (start, end, text), (w_start, w_end, w_text) in zip(sorted(shown), written):
        assert text == w_text
        assert abs(start - w_start) <= FRAME_S and abs(end - w_end) <= FRAME_S, ((start, end), (w_start, w_end))


@needs_ffmpeg
def test_live_srt_feed_publishes_segments_as_the_programme_goes(programme, tmp_path):
    """`rtvoice caption srt://…?mode=listener --hls-vtt DIR --hls-window 3` with FFmpeg sending the recording in
    real time. A thread reads the playlist every 50 ms as a player would. Each segment appears no earlier than its
    end on the feed's clock (20 ms allowed: the test takes the clock from the first final, and the clock's anchor
    settles by a few ms during a run, 7 ms measured) and within 1 s after it (the writer's 0.1 s tick and the 50 ms
    reads: 0.007-0.146 s measured on 2 cores at load 3); the segments written at the close, up to the last cue's
    end, are not timed. Every file a playlist lists reads whole, MEDIA-SEQUENCE only grows as the window slides,
    and each cue starts when its final was ready (emitted_at on the feed's clock, within 10 ms: the anchor's
    settling, cue times in ms) or, for one that came after its segment was out, at the next segment's start."""
    port = free_port(socket.SOCK_DGRAM)
    folder = tmp_path / "en"
    run = RtvoiceRun("caption", f"srt://127.0.0.1:{port}?mode=listener", "--reconnect-for", "1", "--quiet",
                     "--hls-vtt", str(folder), "--hls-window", "3", "--jsonl", str(tmp_path / "en.jsonl"),
                     "--stats", str(tmp_path / "s.json"), timeout_s=90)
    run.wait_for("listening on")
    seen: dict[str, float] = {}  # segment -> wall time it was first listed
    at_close: set[str] = set()  # segments first listed with #EXT-X-ENDLIST: written at the end, whatever the time
    sequences, broken, done = [], [], threading.Event()

    def watch():
        while not done.is_set():
            try:
                tags, segments = read_playlist(folder / PLAYLIST)
            except (FileNotFoundError, AssertionError):
                time.sleep(0.05)
                continue
            now = time.time()
            sequences.append(int(tags["EXT-X-MEDIA-SEQUENCE"]))
            for name, _ in segments:
                if name not in seen and "EXT-X-ENDLIST" in tags:
                    at_close.add(name)
                seen.setdefault(name, now)
                try:
                    text = (folder / name).read_text()
                    if not (text.startswith("WEBVTT\n") and text.endswith("\n\n")):
                        broken.append(name)
                except FileNotFoundError:  # slid out and deleted since the playlist was read: a later one
                    pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(0.5)
    wav = programme.root / "four.wav"
    feed = sender(*padded(wav, tmp_path, lead_s=0.5, tail_s=0.5), "-c:a", "aac", "-f", "mpegts",
                  f"srt://127.0.0.1:{port}")
    try:
        code, _, err = run.finish()
    finally:
        stop(feed)
        done.set()
        watcher.join(5)
    assert code == 0, err
    finals = [e for e in map(json.loads, (tmp_path / "en.jsonl").read_text().splitlines()) if e["kind"] == "final"]
    assert len(finals) >= 3
    anchor = finals[0]["emitted_at"] - finals[0]["latency"] - finals[0]["end"]  # as in test_scc.py
    assert not broken
    tags, segments = read_playlist(folder / PLAYLIST)
    assert "EXT-X-ENDLIST" in tags and len(segments) == 3 and int(tags["EXT-X-MEDIA-SEQUENCE"]) >= 6
    assert sequences == sorted(sequences) and sequences[-1] >= 6
    lateness = []
    for name, first_listed in seen.items():
        if name in at_close:  # up to the last cue's end, which may be later than the end of the input
            continue
        end = (int(name[len("seg-"):-len(".vtt")]) + 1) * 2.0
        lateness.append(first_listed - anchor - end)
        assert -0.02 <= lateness[-1] <= 1.0, (name, first_listed - anchor, end)
    stats = read_stats(tmp_path / "s.json")["hls_vtt"]["en"]
    # each final's own anchor: the feed's clock settles by a few ms as it goes (7 ms in a run measured)
    ready = {e["text"].strip(): max(e["latency"] + e["end"], e["end"]) for e in finals}
    cues = [cue for name, _ in segments for cue in read_segment(folder / name)[1]]
    for start, _, text in cues:
        if text.replace("\n", " ") in ready:
            expected = ready[text.replace("\n", " ")]
            late = stats["late_cues"] and start == math.ceil(expected / 2.0) * 2.0
            assert abs(start - expected) <= 0.01 or late, (text, start, expected)
    latency = stats["cue_after_speech_end_s"]
    assert latency["n"] == len(finals)
    print(f"end of speech -> segment out: p50 {latency['p50']:.2f} s, max {latency['max']:.2f} s; segments listed "
          f"{min(lateness):.3f}-{max(lateness):.3f} s after their ends")
