"""The OBS caption overlay in a real browser: Debian's headless chromium driven by selenium.

A real recording is streamed to an in-process server while the overlay page is open; the test reads the
page's DOM, takes a screenshot, and takes the time from the server handing each final to the viewer's
socket to the text being in the DOM (both clocks are this machine's; goal p95 <= 100 ms on loopback).
"""

from __future__ import annotations

import time
import urllib.error

import numpy as np
import pytest

from asr_support import whisper
from browser_support import headless_chromium
from rtvoice.server.app import CaptionServer, RunningServer, ServerSettings
from server_support import get, joined, stream_recording
from speech_data import load_speech

UTTERANCES = ["spk1_snt1", "spk1_snt2", "spk1_snt3", "spk1_snt4", "spk1_snt5", "spk1_snt6"]


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium("--window-size=1280,720")
    yield driver
    driver.quit()


def start_server(port: int = 0, token=None) -> RunningServer:
    return RunningServer(CaptionServer(whisper(), ServerSettings(port=port, max_streams=2, token=token))).start()


def wait_for(browser, script: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def test_overlay_shows_the_finals_in_a_real_browser(browser, tmp_path):
    from PIL import Image

    server = start_server()
    try:
        browser.get(f"{server.http}/overlay?stream=studio&lines=2&size=40&color=%23ffff00&position=bottom")
        wait_for(browser, "return window.rtvoiceOverlay && window.rtvoiceOverlay.connected")
        assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
        events = stream_recording(server.url, joined([load_speech(u) for u in UTTERANCES]), realtime=False,
                                  stream="studio")
        finals = [e["text"] for e in events if e["type"] == "final"]
        assert len(finals) >= 4
        shown = wait_for(browser, f"var s = window.rtvoiceOverlay; return s.finals.length >= {len(finals)} && s.finals")
        assert shown == finals  # every final reached the page, in order
        time.sleep(0.5)  # old lines fade out (0.3 s)
        lines = [e.text for e in browser.find_elements("css selector", "#captions .line")]
        assert lines == finals[-2:]  # roll-up: the last two finals kept, older ones scrolled off
        path = tmp_path / "overlay.png"
        assert browser.save_screenshot(str(path))
        pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
        yellow = (pixels[..., 0] > 200) & (pixels[..., 1] > 200) & (pixels[..., 2] < 80)
        assert yellow.sum() > 500, "no caption text in the colour asked for on the screenshot"
        assert yellow[pixels.shape[0] // 2:].sum() > 0.9 * yellow.sum()  # at the bottom
        latencies = browser.execute_script("return window.rtvoiceOverlay.latencies")
        p50, p95 = np.percentile(latencies, [50, 95])
        print(f"\noverlay: server final -> text in the DOM over {len(latencies)} finals: "
              f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (goal p95 <= 100 ms); screenshot {path}")
        assert 0 <= p50 and p95 < 1.0  # the goal is reported, not asserted on a loaded machine
    finally:
        server.stop()


def test_overlay_reconnects_when_the_server_comes_back(browser):
    first = start_server()
    port = first.port
    browser.get(f"{first.http}/overlay?stream=again")
    wait_for(browser, "return window.rtvoiceOverlay.connected")
    first.stop()
    wait_for(browser, "return !window.rtvoiceOverlay.connected")
    second = start_server(port)
    try:
        wait_for(browser, "return window.rtvoiceOverlay.connects >= 2 && window.rtvoiceOverlay.connected")
        events = stream_recording(second.url, joined([load_speech("spk1_snt5")]), realtime=False, stream="again")
        final = [e["text"] for e in events if e["type"] == "final"][-1]
        assert wait_for(browser, "return window.rtvoiceOverlay.finals")[-1] == final
        assert final in browser.find_element("id", "captions").text
    finally:
        second.stop()


def test_overlay_parameters_are_checked_and_need_the_token():
    server = start_server(token="s3cret")
    try:
        status, page = get(f"{server.http}/overlay?stream=a&token=s3cret&font=Noto%20Sans&size=30")
        assert status == 200 and "Noto Sans" in page
        assert "<script src" not in page and "<link" not in page and "http" not in page.split("<script")[1]
        for query, code in (("stream=a", 401), ("stream=a&token=bad", 401), ("token=s3cret", 400),
                            ("stream=a&token=s3cret&size=2", 400), ("stream=a&token=s3cret&position=left", 400),
                            ("stream=a&token=s3cret&color=red;x:url(evil)", 400),
                            ("stream=a&token=s3cret&font=%3C/script%3E", 400)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                get(f"{server.http}/overlay?{query}")
            assert refused.value.code == code, query
    finally:
        server.stop()
