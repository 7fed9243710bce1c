"""Only a task's part of Speech Commands, streamed from an archive served on 127.0.0.1; resume; checksum."""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tinymlkit.audio.wav import wav_bytes
from tinymlkit.data.download import RemoteFile
from tinymlkit.data.speech_commands_subset import STATE_FILE, download_speech_commands_subset, wanted_member
from tinymlkit.errors import KitError

WORDS = ("yes", "no", "cat", "dog", "tree")


def _archive() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("./LICENSE", b"CC-BY-4.0\n")
        add("./validation_list.txt", b"yes/00000001_nohash_0.wav\n")
        add("./testing_list.txt", b"no/00000002_nohash_0.wav\n")
        for w in WORDS:
            for spk in range(40):
                add(f"./{w}/{spk:08x}_nohash_0.wav", wav_bytes(0.01 * rng.standard_normal(1600), 16000))
        add("./_background_noise_/white_noise.wav", wav_bytes(0.1 * rng.standard_normal(16000), 16000))
        add("./../evil.wav", b"x")
    return buf.getvalue()


class _Server:
    """Serves one archive; ``cut`` bytes makes the next request stop after that many bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.cut, self.requests = data, None, 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                outer.requests += 1
                body = outer.data if outer.cut is None else outer.data[: outer.cut]
                outer.cut = None
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.data)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/speech_commands_v0.02.tar.gz"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def served():
    data = _archive()
    s = _Server(data)
    yield s, RemoteFile(s.url, hashlib.sha256(data).hexdigest(), len(data))
    s.close()


def test_member_choice():
    from tinymlkit.data.speech_commands_subset import SubsetSpec

    spec = SubsetSpec(("yes",), 0.0)
    assert wanted_member("./yes/a_nohash_0.wav", spec) == "yes/a_nohash_0.wav"
    assert wanted_member("cat/a_nohash_0.wav", spec) is None
    assert wanted_member("./_background_noise_/pink.wav", spec) == "_background_noise_/pink.wav"
    assert wanted_member("../yes/a.wav", spec) is None and wanted_member("./a/b/c.wav", spec) is None
    assert wanted_member("./testing_list.txt", spec) == "testing_list.txt"


def test_keeps_words_a_sample_of_others_and_noise(served, tmp_path):
    server, remote = served
    out = download_speech_commands_subset(tmp_path / "sc", words=("yes", "no"), unknown_share=0.5, remote=remote,
                                          progress=False)
    counts = {d.name: len(list(d.glob("*.wav"))) for d in out.iterdir() if d.is_dir()}
    assert counts["yes"] == counts["no"] == 40
    for other in ("cat", "dog", "tree"):
        assert 8 <= counts[other] <= 32  # about half, fixed by the file names
    assert counts["_background_noise_"] == 1
    assert (out / "validation_list.txt").is_file() and (out / "LICENSE").is_file()
    assert not (tmp_path / "evil.wav").exists()
    # The same again: nothing fetched (complete and same choice).
    n = server.requests
    assert download_speech_commands_subset(out, words=("yes", "no"), unknown_share=0.5, remote=remote,
                                           progress=False) == out
    assert server.requests == n
    # The loader reads it as a keyword dataset, with the official split lists.
    from tinymlkit.data.speech_commands import read_split_lists, scan_folder

    assert {c.word for c in scan_folder(out)} >= {"yes", "no", "cat"}
    assert read_split_lists(out) is not None


def test_an_interrupted_stream_resumes_and_keeps_what_it_had(served, tmp_path):
    server, remote = served
    server.cut = len(server.data) // 2
    with pytest.raises(KitError, match="run the same command again"):
        download_speech_commands_subset(tmp_path / "sc", words=("yes",), unknown_share=0.2, remote=remote,
                                        progress=False)
    out = tmp_path / "sc"
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert first and '"complete": false' in (out / STATE_FILE).read_text()
    download_speech_commands_subset(out, words=("yes",), unknown_share=0.2, remote=remote, progress=False)
    assert '"complete": true' in (out / STATE_FILE).read_text()
    assert len(list((out / "yes").glob("*.wav"))) == 40
    assert all(p.stat().st_mtime_ns == t for p, t in first.items())  # not written twice


def test_checksum_mismatch_and_someones_folder_are_refused(served, tmp_path):
    server, remote = served
    bad = RemoteFile(remote.url, "0" * 64, remote.size)
    with pytest.raises(KitError, match="checksum mismatch"):
        download_speech_commands_subset(tmp_path / "sc", remote=bad, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(KitError, match="did not create"):
        download_speech_commands_subset(mine, remote=remote, progress=False)
    assert (mine / "notes.txt").read_text() == "mine"
