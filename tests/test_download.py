"""Download with resume and checksum, against a real HTTP server on 127.0.0.1 (no internet)."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading

import pytest

from tinymlkit.data.download import RemoteFile, download, download_speech_commands, extract_tar
from tinymlkit.errors import KitError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves one payload, honours Range, and can drop the connection part-way on the first request."""

    payload = PAYLOAD
    cut_first_at: int | None = None
    requests: list[str | None] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        body = self.payload[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        self.end_headers()
        cut = type(self).cut_first_at
        if cut is not None:
            type(self).cut_first_at = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.requests = []
    _Handler.cut_first_at = None
    _Handler.payload = PAYLOAD
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()


def test_download_checks_the_checksum(server, tmp_path):
    remote = RemoteFile(server, hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    path = download(remote, tmp_path / "f.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    download(remote, path, progress=False)  # already there: no new request
    assert len(_Handler.requests) == 1


def test_interrupted_download_resumes_with_range(server, tmp_path):
    _Handler.cut_first_at = 300_000
    remote = RemoteFile(server, hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    path = download(remote, tmp_path / "f.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests[0] is None and _Handler.requests[1] == "bytes=300000-"


def test_bad_checksum_is_refused_and_removed(server, tmp_path):
    remote = RemoteFile(server, "0" * 64, len(PAYLOAD))
    with pytest.raises(KitError, match="checksum mismatch"):
        download(remote, tmp_path / "f.bin", progress=False)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_no_server_says_what_to_do(tmp_path):
    remote = RemoteFile("http://127.0.0.1:9/none.tar.gz", None, None)
    with pytest.raises(KitError, match="copy speech_commands_v0.02.tar.gz"):
        download_speech_commands(tmp_path / "sc", remote=remote, progress=False)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_speech_commands_archive_from_a_local_server(server, tmp_path):
    archive = _tar({"./yes/0a7c2a8d_nohash_0.wav": b"RIFF....", "./validation_list.txt": b"yes/x_nohash_0.wav\n",
                    "./testing_list.txt": b""})
    _Handler.payload = archive
    remote = RemoteFile(server, hashlib.sha256(archive).hexdigest(), len(archive))
    out = download_speech_commands(tmp_path / "sc", remote=remote, progress=False)
    assert (out / "yes" / "0a7c2a8d_nohash_0.wav").read_bytes() == b"RIFF...."
    assert download_speech_commands(out, remote=remote, progress=False) == out  # made once


def test_extract_refuses_path_traversal(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar({"../escape.txt": b"x"}))
    with pytest.raises(KitError, match="outside"):
        extract_tar(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "escape.txt").exists()
