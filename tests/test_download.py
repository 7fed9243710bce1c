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
        if start >= len(self.payload) and rng:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(self.payload)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
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


def test_a_name_that_does_not_resolve_fails_at_once(tmp_path, monkeypatch, capsys):
    """No network: one clear error, no retries, nothing left behind."""
    import socket

    calls = []

    def no_dns(*args, **kwargs):
        calls.append(args[0])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(KitError, match=r"cannot reach files\.example\.org \(no network.*run the same command again"):
        download(RemoteFile("http://files.example.org/a.zip", None, None), tmp_path / "a.zip", progress=False)
    assert calls == ["files.example.org"] and "resuming" not in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


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


def test_partial_file_longer_than_the_archive_starts_over_once(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    dest = tmp_path / "f.bin"
    # Size unknown: the server answers 416 to the Range request; the download starts over, once.
    (tmp_path / "f.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    path = download(RemoteFile(server, digest, None), dest, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests == [f"bytes={len(PAYLOAD) + 10}-", None]
    # Size known: no request is wasted on a part that cannot be the start of the file.
    _Handler.requests = []
    dest.unlink()
    (tmp_path / "f.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    download(RemoteFile(server, digest, len(PAYLOAD)), dest, progress=False)
    assert _Handler.requests == [None] and dest.read_bytes() == PAYLOAD


def test_a_folder_with_the_learners_files_is_refused_before_downloading(server, tmp_path):
    out = tmp_path / "my_recordings"
    out.mkdir()
    (out / "take1.wav").write_bytes(b"precious")
    archive = _tar({"./validation_list.txt": b"", "./testing_list.txt": b""})
    _Handler.payload = archive
    remote = RemoteFile(server, hashlib.sha256(archive).hexdigest(), len(archive))
    with pytest.raises(KitError, match="did not create"):
        download_speech_commands(out, remote=remote, progress=False)
    assert (out / "take1.wav").read_bytes() == b"precious" and sorted(p.name for p in out.iterdir()) == ["take1.wav"]
    assert _Handler.requests == []  # refused before a single byte was fetched


def test_out_dot_and_a_full_disk_are_refused_before_downloading(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    remote = RemoteFile(server, None, len(PAYLOAD))
    with pytest.raises(KitError, match="current, home or root folder"):
        download_speech_commands(".", remote=remote, progress=False)
    huge = RemoteFile(server, None, 1 << 60)
    with pytest.raises(KitError, match="GB free"):
        download_speech_commands(tmp_path / "sc", remote=huge, progress=False)
    assert _Handler.requests == [] and list(tmp_path.iterdir()) == []


def test_a_failed_extraction_leaves_nothing_behind(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar({"ok.txt": b"fine", "../escape.txt": b"x"}))
    with pytest.raises(KitError, match="outside"):
        extract_tar(archive, tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + b"not gzip data" * 100)
    with pytest.raises(KitError, match="garbage.tar.gz"):
        extract_tar(garbage, tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz", "garbage.tar.gz"]


def test_extraction_replaces_only_the_kits_own_folder(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar({"x.txt": b"new"}))
    out = tmp_path / "out"
    extract_tar(archive, out, progress=False)
    assert (out / "x.txt").read_bytes() == b"new"
    extract_tar(archive, out, progress=False)  # the kit's own folder: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_bytes(b"mine")
    with pytest.raises(KitError, match="did not create"):
        extract_tar(archive, mine, progress=False)
    assert sorted(p.name for p in mine.iterdir()) == ["keep.txt"]
