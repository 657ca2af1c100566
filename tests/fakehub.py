"""A Hugging Face hub on 127.0.0.1 that speaks the resolve API, for tests (HF_ENDPOINT points at it).

``HEAD|GET /{owner}/{repo}/resolve/{revision}/{file}`` answers like the hub
does for an LFS file: a 302 to the "CDN" (``/cdn/{sha256}`` on 127.0.0.2)
carrying ``X-Repo-Commit``, ``ETag`` / ``X-Linked-Etag`` (the sha256) and
``X-Linked-Size``; the CDN serves the bytes with ``Range`` support. Errors
carry ``X-Error-Code`` as the hub's do: ``RepoNotFound``, ``EntryNotFound``,
``RevisionNotFound``, ``GatedRepo`` (401 without a token, 403 with a wrong one).

    with FakeHub({"owner/repo/model.gguf": data}, gated={"owner/gated"}) as hub:
        hub.url, hub.requests, hub.cut_next_at(100_000), hub.lie_about("owner/repo/model.gguf")
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_good_token"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-body (a stopped download) is no error of the server's


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeHub:
    files: dict[str, bytes]  # "owner/repo/path/in/repo" -> bytes
    gated: set[str] = field(default_factory=set)  # "owner/repo" that need TOKEN
    requests: list[Request] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # the next CDN GETs send this many bytes, then hang up
    lies: dict[str, str] = field(default_factory=dict)  # file -> the sha256 the hub claims
    ranges: bool = True  # False: the CDN ignores Range and sends the whole file again
    status: int | None = None  # answer every resolve with this HTTP status (503, ...)
    slow: float = 0.0  # seconds between the CDN's 16 KiB pieces
    url: str = ""
    cdn: str = ""

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, body=False)

            def do_GET(self) -> None:
                hub._serve(self, body=True)

        self._servers = []
        for address in ("127.0.0.1", "127.0.0.2"):  # the hub, and its "CDN" on another host, as the real one
            server = _Server((address, 0), Handler)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
            self._servers.append(server)
        self.url, self.cdn = (f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self._servers)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def cut_next_at(self, n: int) -> None:
        self.cuts.append(n)

    def lie_about(self, key: str, sha256: str = "ab" * 32) -> None:
        self.lies[key] = sha256

    def resolves(self) -> list[Request]:
        return [r for r in self.requests if "/resolve/" in r.path]

    def gets(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.startswith("/cdn/")]

    # ------------------------------------------------------------------------- answering

    def _serve(self, h: http.server.BaseHTTPRequestHandler, *, body: bool) -> None:
        self.requests.append(Request(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}))
        if h.path.startswith("/cdn/"):
            self._cdn(h, h.path.removeprefix("/cdn/"), body=body)
            return
        if self.status is not None:
            self._error(h, self.status, "")
            return
        repo, sep, rest = h.path.lstrip("/").partition("/resolve/")
        revision, _, file = rest.partition("/")
        if not sep or not file:
            self._error(h, 404, "")
            return
        repos = {"/".join(k.split("/")[:2]) for k in self.files} | self.gated
        if repo in self.gated and h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._error(h, 403 if h.headers.get("Authorization") else 401, "GatedRepo")
            return
        if repo not in repos:
            self._error(h, 401, "RepoNotFound")  # what the hub says to a client without a token
            return
        if revision not in ("main", COMMIT):
            self._error(h, 404, "RevisionNotFound")
            return
        key = f"{repo}/{file}"
        data = self.files.get(key)
        if data is None:
            self._error(h, 404, "EntryNotFound", commit=True)
            return
        sha = self.lies.get(key, hashlib.sha256(data).hexdigest())
        h.send_response(302)
        h.send_header("Location", f"{self.cdn}/cdn/{hashlib.sha256(data).hexdigest()}")
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{sha}"')
        h.send_header("X-Linked-Etag", f'"{sha}"')
        h.send_header("X-Linked-Size", str(len(data)))
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _cdn(self, h: http.server.BaseHTTPRequestHandler, sha: str, *, body: bool) -> None:
        data = next((d for d in self.files.values() if hashlib.sha256(d).hexdigest() == sha), None)
        if data is None:
            self._error(h, 404, "")
            return
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        if start >= len(data) and data:
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{len(data)}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        chunk = data[start:]
        h.send_response(206 if start else 200)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(chunk)))
        h.send_header("ETag", f'"{sha}"')
        h.end_headers()
        if not body:
            return
        if self.cuts:
            n = self.cuts.pop(0)
            h.wfile.write(chunk[:n])
            h.wfile.flush()
            h.close_connection = True
            return
        if self.slow:
            for i in range(0, len(chunk), 16_384):
                h.wfile.write(chunk[i:i + 16_384])
                h.wfile.flush()
                time.sleep(self.slow)
            return
        h.wfile.write(chunk)

    def _error(self, h: http.server.BaseHTTPRequestHandler, status: int, code: str, *, commit: bool = False) -> None:
        text = f"{status} {code or 'error'}".encode()
        h.send_response(status)
        if code:
            h.send_header("X-Error-Code", code)
            h.send_header("X-Error-Message", code)
        if commit:
            h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(text)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(text)
