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


# ---- photos from the webcam (`tinymlkit record --photos`) -------------------------------------------

def _png(pixels: np.ndarray) -> bytes:
    from tinymlkit.vision.image_io import encode_image

    return encode_image(pixels, "PNG")


def _jpeg_with_gps(pixels: np.ndarray) -> bytes:
    """A JPEG carrying EXIF with a camera name and a GPS position, as a phone writes it."""
    import io

    from PIL import Image

    img = Image.fromarray(pixels, "RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 17.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def test_photo_uploads_are_checked_saved_pixels_only_and_never_overwrite(tmp_path):
    from PIL import Image

    from tinymlkit.recorder import PhotoServer

    out = tmp_path / "mine"
    (out / "person").mkdir(parents=True)
    mine = out / "person" / "abc123_0.png"
    mine.write_bytes(b"an earlier photo: must survive")
    rng = np.random.default_rng(0)
    still = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    big = rng.integers(0, 256, (960, 1280, 3), dtype=np.uint8)
    with PhotoServer(out, owner="abc123", takes=2) as server:
        status, answer = _post(server.url, "/api/photo?label=person", _png(still), {"Content-Type": "image/png"})
        assert status == 200 and answer["file"] == "person/abc123_1.png", answer
        assert answer["counts"] == {"person": 2, "non_person": 0}
        # A phone JPEG with EXIF and GPS: kept as pixels only, and a larger one is scaled to 640 a side.
        status, answer = _post(server.url, "/api/photo?label=non_person", _jpeg_with_gps(big))
        assert status == 200 and answer["file"] == "non_person/abc123_0.png", answer
        # Refused, nothing written: not an image, empty, a GIF, too many bytes, too many pixels, unknown label,
        # a label that is a path, a foreign Host or Origin, the audio endpoint.
        refused = [
            ("/api/photo?label=person", b"<html>not a photo</html>", {}, 400, "not an image"),
            ("/api/photo?label=person", b"", {}, 400, "body"),
            ("/api/photo?label=person", _gif(), {}, 400, "GIF"),
            ("/api/photo?label=person", b"x" * 100, {"Content-Length": str(64 * 1024 * 1024)}, 413, "bytes"),
            ("/api/photo?label=person", _png(np.zeros((8, 5000), np.uint8)), {}, 413, "5000x8"),
            ("/api/photo?label=person", _png(np.zeros((4, 4), np.uint8)), {}, 400, "too small"),
            ("/api/photo?label=cat", _png(still), {}, 400, "not one of"),
            ("/api/photo?label=../../etc", _png(still), {}, 400, "not one of"),
            ("/api/photo?label=person", _png(still), {"Host": "evil.example:80"}, 403, "127.0.0.1"),
            ("/api/photo?label=person", _png(still), {"Origin": "http://evil.example"}, 403, "127.0.0.1"),
            ("/api/clip?word=person", _png(still), {}, 404, "no such endpoint"),
        ]
        for path, body, headers, want, words in refused:
            status, answer = _post(server.url, path, body, headers)
            assert status == want and words in answer["error"], (path, headers, status, answer)
        assert len(server.saved) == 2
    assert mine.read_bytes() == b"an earlier photo: must survive"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                   and not p.name.startswith("."))
    assert files == ["non_person/abc123_0.png", "person/abc123_0.png", "person/abc123_1.png"]
    with Image.open(out / "person" / "abc123_1.png") as img:
        assert img.size == (64, 48) and not img.info.get("exif") and not img.getexif()
        assert np.array_equal(np.asarray(img.convert("RGB")), still)  # PNG in, the very pixels out
    with Image.open(out / "non_person" / "abc123_0.png") as img:
        assert img.size == (640, 480) and not img.info.get("exif") and not img.getexif()
        assert b"PhoneMaker" not in (out / "non_person" / "abc123_0.png").read_bytes()


def _gif() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (32, 32)).save(buf, "GIF")
    return buf.getvalue()


def test_photo_session_options_are_checked(tmp_path):
    from tinymlkit.recorder import PhotoServer

    for kwargs, words in (({"labels": ["Person!"]}, "label"), ({"labels": ["person", "person"]}, "more than once"),
                          ({"owner": "a_b"}, "--owner"), ({"takes": 0}, "--takes"), ({"max_side": 8}, "--max-side")):
        with pytest.raises(KitError, match=words):
            PhotoServer(tmp_path / "x", **kwargs)
    (tmp_path / "file").write_text("x")
    with pytest.raises(KitError, match="not a folder"):
        PhotoServer(tmp_path / "file")


# The fake camera's picture: a dark room with a white square (top right) and a red square (bottom left).
_W, _H = 640, 480
_WHITE = (slice(80, 240), slice(400, 560))  # rows, columns
_RED = (slice(300, 420), slice(80, 200))


def _write_y4m(path, frames: int = 3) -> None:
    """A YUV 4:2:0 (BT.601 studio range) y4m file, the format Chromium's fake camera plays from a file."""
    y = np.full((_H, _W), 16, np.uint8)
    u = np.full((_H // 2, _W // 2), 128, np.uint8)
    v = np.full((_H // 2, _W // 2), 128, np.uint8)
    y[_WHITE] = 235
    y[_RED] = 81  # pure red: Y 81, Cb 90, Cr 240
    half = tuple(slice(s.start // 2, s.stop // 2) for s in _RED)
    u[half], v[half] = 90, 240
    frame = b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()
    path.write_bytes(f"YUV4MPEG2 W{_W} H{_H} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)


@pytest.mark.slow
@pytest.mark.parametrize("max_side", [640, 320])
def test_page_takes_photos_from_a_fake_camera_end_to_end(tmp_path, max_side):
    """Real Chromium, camera fed from a y4m file: the page snaps, the photos land, the loader reads them.

    At 640 the still is the camera's frame as it is; at 320 the page scales it down before sending.
    """
    chrome, driver_path = _chromium()
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tinymlkit.recorder import PhotoServer

    cam = tmp_path / "camera.y4m"
    _write_y4m(cam)
    out = tmp_path / "mine"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={cam}", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    k = max_side / _W  # the page's scale
    w, h = round(_W * k), round(_H * k)
    with PhotoServer(out, owner="feed01", takes=1, max_side=max_side) as server:
        browser = webdriver.Chrome(service=Service(driver_path), options=opts)
        try:
            browser.set_page_load_timeout(60)
            browser.get(server.url)
            wait = WebDriverWait(browser, 60)
            body = browser.find_element(By.TAG_NAME, "body")
            wait.until(lambda b: body.get_attribute("data-camera"))
            assert body.get_attribute("data-camera") == f"{_W}x{_H}", body.get_attribute("data-state")
            assert "pixels" in browser.find_element(By.ID, "consent").text
            for label, redo in (("person", True), ("non_person", False)):
                assert body.get_attribute("data-label") == label
                assert browser.find_element(By.ID, "hint").text  # what counts for this label
                browser.find_element(By.ID, "snap").click()
                wait.until(lambda b: not b.find_element(By.ID, "keep").get_property("disabled"))
                assert body.get_attribute("data-still") == f"{w}x{h}"
                if redo:  # a redo sends nothing
                    browser.find_element(By.ID, "redo").click()
                    assert browser.find_element(By.ID, "keep").get_property("disabled")
                    assert not out.exists() or not list(out.rglob("*.png"))
                    browser.find_element(By.ID, "snap").click()
                    wait.until(lambda b: not b.find_element(By.ID, "keep").get_property("disabled"))
                browser.find_element(By.ID, "keep").click()
                wait.until(lambda b: (body.get_attribute("data-saved") or "").startswith(f"{label}/"))
            wait.until(lambda b: body.get_attribute("data-done") == "yes")
        finally:
            browser.quit()
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert files == ["non_person/feed01_0.png", "person/feed01_0.png"]
    for f in files:
        with Image.open(out / f) as img:
            assert img.size == (w, h) and not img.getexif()
            a = np.asarray(img.convert("RGB")).astype(float)
        # The fed frame came through Chromium's camera, the canvas and the upload: the squares are where
        # they were drawn, the right colours, on a dark background.
        luma = a @ [0.299, 0.587, 0.114]
        rows, cols = np.nonzero(luma > 200)
        assert abs(rows.mean() - 160 * k) <= 3 and abs(cols.mean() - 480 * k) <= 3, (rows.mean(), cols.mean())
        assert len(rows) == pytest.approx((160 * k) ** 2, rel=0.15)
        r, g, b = a[int(340 * k):int(380 * k), int(120 * k):int(160 * k)].reshape(-1, 3).mean(0)
        assert r > 180 and g < 60 and b < 60, (r, g, b)
        background = np.ones((h, w), bool)
        for rows_, cols_ in ((slice(60, 260), slice(380, 580)), (slice(280, 440), slice(60, 220))):
            background[int(rows_.start * k):int(rows_.stop * k), int(cols_.start * k):int(cols_.stop * k)] = False
        assert luma[background].mean() < 20
    from tinymlkit.pipelines.vww import load_real_photos

    real = load_real_photos(out)
    assert len(real.y) == 2 and sorted(real.labels[i] for i in real.y) == ["non_person", "person"]
