"""The program's run, kept while the program's files do not change: a check after a test-only change reuses it.

In the 1.5B's snake build (2026-12-07) every check ran the game for its 15 s window; the check
after the import repair added a missing import to the *test* file ran it again, and so did
the check after the tester rewrote its tests: six of the nine runs in its test loop were of
program files that had not changed, 15 s each. The program cannot see its tests, so its run is the same fact: the
runner is told to skip it (``skip_run``), and the kept run comes back marked ``reused``.

A run is kept per build (``engine`` makes one ``RunMemo`` for each), under a key of every file
the sandbox gets that is not a test (by the supervisor's own rule), the entry point, the
window, the example arguments and the image. A program whose run differs from one try to the
next (a crash on a random draw) keeps its first verdict until its files change.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

MAX_KEPT = 8


class RunMemo:
    """The runner's payload for the program's run, by what decides it."""

    def __init__(self, size: int = MAX_KEPT) -> None:
        self._kept: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._size = size

    @staticmethod
    def key(project_dir: Path, files: list[Path], *, entry: str | None, timeout: float, gui: bool | None,
            args: list[list[str]], image: str) -> str:
        """A digest of the program's files (``files``: the non-test files the sandbox gets) and its run's settings."""
        digest = hashlib.sha256(json.dumps([entry, timeout, gui, args, image]).encode())
        for path in sorted(files):
            try:
                data = path.read_bytes()
            except OSError:
                data = b"\0unreadable"
            digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(data).digest())
        return digest.hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        run = self._kept.get(key)
        if run is not None:
            self._kept.move_to_end(key)
        return run

    def put(self, key: str, run: dict[str, Any]) -> None:
        self._kept[key] = run
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
