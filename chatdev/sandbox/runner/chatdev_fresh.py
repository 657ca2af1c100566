"""Each test starts from the project folder as it was delivered.

A program that saves its state in the working folder (``todo.json``, ``notes.txt``)
makes its tests depend on one another: the items one test adds are in the next test's
list. This module puts the folder back after each test, and the supervisor puts it
back after the program's own runs and before the tests: files created are removed,
files changed or removed are written again.

It is a pytest plugin (``-p chatdev_fresh``, from ``/opt/chatdev/pytest``) and a plain
module the supervisor imports; standard library only, ``pytest`` only when present.
"""

from __future__ import annotations

import os
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".pytest_cache", ".git"}
MAX_FILE = 1 << 20  # bytes: a larger file is not kept, so not put back
MAX_TOTAL = 16 << 20


Kept = dict[str, "bytes | None"]  # relative path -> a file's content, or None for a folder


def snapshot(root: Path) -> Kept | None:
    """Every file (with its content) and folder under ``root``; None when the folder is too big to keep."""
    kept: Kept = {}
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        kept.update((str(Path(folder, d).relative_to(root)), None) for d in dirs)
        for name in files:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            try:
                if path.stat().st_size > MAX_FILE:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            total += len(data)
            if total > MAX_TOTAL:
                return None
            kept[str(path.relative_to(root))] = data
    return kept


def restore(root: Path, kept: Kept | None) -> list[str]:
    """Put ``root`` back to ``kept``; the relative paths that were created, changed or removed."""
    if kept is None:
        return []
    touched: list[str] = []
    now = snapshot(root) or {}
    for rel in sorted(set(now) - set(kept), key=len, reverse=True):  # a folder's files before the folder
        try:
            if now[rel] is None:
                (root / rel).rmdir()
            else:
                (root / rel).unlink()
            touched.append(rel)
        except OSError:
            pass
    for rel, data in kept.items():
        if data is not None and now.get(rel) == data or data is None and rel in now:
            continue
        path = root / rel
        try:
            if data is None:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            touched.append(rel)
        except OSError:
            pass
    return touched


try:
    import pytest
except ImportError:  # the supervisor's own import needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    @pytest.fixture(autouse=True)
    def chatdev_fresh_folder():  # type: ignore[no-untyped-def]
        """Put the working folder back after each test, and go back to it."""
        root = Path.cwd()
        kept = snapshot(root)
        yield
        try:
            os.chdir(root)
        except OSError:
            return
        restore(root, kept)
