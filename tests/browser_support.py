"""A real browser for the tests of web pages: Debian's chromium and chromium-driver through selenium, headless."""

from __future__ import annotations

import shutil

import pytest


def headless_chromium(*flags: str):
    """A selenium driver of headless chromium with these extra command-line flags (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail("Debian's chromium and chromium-driver are needed (make installs them: APT_PACKAGES)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *flags):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))
