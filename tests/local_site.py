"""Files served over HTTP from 127.0.0.1, for the tests of the kit's download code (no test uses the network).

``LocalSite`` serves a table of path -> bytes, answers 404 for anything else, honours byte ranges
(``bytes=N-`` and ``bytes=N-M``, answered 206 with ``Content-Range``) and logs every request, so a test
can check what was fetched, what was fetched again and which ranges were asked for.
"""
from __future__ import annotations

import http.server
import threading


class LocalSite:
    """A small web server on 127.0.0.1 and a free port, in a thread; use it as a context manager."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        """What is served: absolute path (``/a/b.zip``) -> body. Change it at any time."""
        self.hits: list[str] = []
        """Every GET's path, in order."""
        self.ranges: list[str] = []
        """Every ``Range`` header received, in order."""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                site.hits.append(self.path)
                body = site.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                if rng:
                    site.ranges.append(rng)
                    lo_text, hi_text = rng.split("=", 1)[1].split("-", 1)
                    lo, hi = int(lo_text), min(int(hi_text or len(body) - 1), len(body) - 1)
                    part = body[lo:hi + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(body)}")
                else:
                    part = body
                    self.send_response(200)
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        """The site's address, without a trailing slash."""

    def url(self, path: str) -> str:
        """The full address of a path on this site."""
        return self.base + path

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
