"""`tinymlkit record`: the local recorder page, end to end in a real headless Chromium with a fake microphone."""
from __future__ import annotations

import http.client
import json
import shutil

import numpy as np
import pytest

from tinymlkit.audio.wav import read_wav, write_wav
from tinymlkit.errors import KitError
from tinymlkit.recorder import RecorderServer


def _post(url: str, path: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    host, port = url.split("//")[1].strip("/").split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream", **(headers or {})})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def test_takes_are_saved_create_only_in_speech_commands_layout(tmp_path):
    out = tmp_path / "mine"
    (out / "yes").mkdir(parents=True)
    mine = out / "yes" / "abc123_nohash_0.wav"
    write_wav(mine, np.full(16000, 0.25, np.float32))  # an earlier take: must survive
    before = mine.read_bytes()
    pcm = (np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes()
    with RecorderServer(out, ["yes", "no"], speaker="abc123", takes=2) as server:
        status, answer = _post(server.url, "/api/clip?word=yes", pcm)
        assert status == 200 and answer["file"] == "yes/abc123_nohash_1.wav"
        assert answer["counts"] == {"yes": 2, "no": 0}
        # Wrong length, unknown word, foreign Host: refused, nothing written.
        assert _post(server.url, "/api/clip?word=yes", pcm[:100])[0] == 400
        assert _post(server.url, "/api/clip?word=../../etc", pcm)[0] == 400
        assert _post(server.url, "/api/clip?word=no", pcm, {"Host": "evil.example:80"})[0] == 403
        assert _post(server.url, "/api/clip?word=no", pcm, {"Origin": "http://evil.example"})[0] == 403
    assert mine.read_bytes() == before
    x, rate = read_wav(out / "yes" / "abc123_nohash_1.wav")
    assert rate == 16000 and len(x) == 16000 and np.allclose(x * 32768, np.frombuffer(pcm, "<i2"))
    assert sorted(p.name for p in (out / "yes").iterdir()) == ["abc123_nohash_0.wav", "abc123_nohash_1.wav"]
    assert not (out / "no").exists() or not any((out / "no").iterdir())


def test_bad_speaker_or_word_is_one_clear_error(tmp_path):
    with pytest.raises(KitError, match="speaker"):
        RecorderServer(tmp_path, ["yes"], speaker="a_b")
    with pytest.raises(KitError, match="word"):
        RecorderServer(tmp_path, ["Yes!"])


def _chromium() -> tuple[str, str]:
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        pytest.skip("headless Chromium and chromedriver are not installed "
                    "(Debian/Ubuntu: sudo apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    return chrome, driver


@pytest.mark.slow
def test_page_records_from_a_fake_microphone_end_to_end(tmp_path):
    """Real Chromium, microphone fed from a WAV: the page records, the files land, the loader reads them."""
    chrome, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # The fake microphone plays this file in a loop: a 440 Hz tone, loud enough to see.
    t = np.arange(3 * 48000) / 48000
    mic = tmp_path / "mic.wav"
    write_wav(mic, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    out = tmp_path / "dataset"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    with RecorderServer(out, ["yes", "no"], speaker="feed01", takes=1) as server:
        browser = webdriver.Chrome(service=Service(driver_path), options=opts)
        try:
            browser.set_page_load_timeout(60)
            browser.get(server.url)
            wait = WebDriverWait(browser, 60)
            body = browser.find_element(By.TAG_NAME, "body")
            wait.until(lambda b: body.get_attribute("data-word") == "yes")
            for word, redo in (("yes", True), ("no", False)):
                assert body.get_attribute("data-word") == word
                browser.find_element(By.ID, "record").click()
                wait.until(lambda b: not b.find_element(By.ID, "keep").get_property("disabled")
                           or "Could not" in (body.get_attribute("data-state") or ""))
                assert "Could not" not in (body.get_attribute("data-state") or ""), body.get_attribute("data-state")
                assert float(body.get_attribute("data-peak")) > 0.1
                if redo:  # a redo saves nothing
                    browser.find_element(By.ID, "redo").click()
                    assert not list(out.rglob("*.wav"))
                    browser.find_element(By.ID, "record").click()
                    wait.until(lambda b: not b.find_element(By.ID, "keep").get_property("disabled"))
                browser.find_element(By.ID, "keep").click()
                wait.until(lambda b: (body.get_attribute("data-saved") or "").startswith(f"{word}/"))
            wait.until(lambda b: body.get_attribute("data-done") == "yes")
        finally:
            browser.quit()
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert files == ["no/feed01_nohash_0.wav", "yes/feed01_nohash_0.wav"]
    x, rate = read_wav(out / "yes" / "feed01_nohash_0.wav")
    assert rate == 16000 and len(x) == 16000
    # The tone came through the browser's capture and resampling: its peak frequency is 440 Hz.
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.argmax(spec) - 440) <= 3
    # The kit's loader reads the session as a keyword dataset.
    from tinymlkit.data.speech_commands import label_items, scan_folder

    clips = scan_folder(out)
    assert {c.word for c in clips} == {"yes", "no"} and {c.speaker for c in clips} == {"feed01"}
    items, skipped = label_items(out, ("silence", "unknown", "yes", "no"))
    assert len(items) == 2 and not skipped
