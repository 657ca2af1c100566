"""Files in a project folder: paths checked before use, writes that never leave half a file.

``path_problem`` is the one path rule (no escape from the project, no ``.git``, no
``.chatdev/``), which ``clean_relpath`` applies to every write and the reply parser to
every path a model names; ``atomic_write`` writes a temp file in the same folder,
fsyncs it and renames it into place. A full disk or a read-only folder is a
``WorkspaceEnvironmentError`` that says what to do.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from chatdev.errors import WorkspaceEnvironmentError, WorkspaceError

CHATDEV_DIR = ".chatdev"
TMP_SUFFIX = ".chatdev-tmp"
_ENV_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


SANDBOX_ROOT = "/work/app/"  # where the project lies in the sandbox (sandbox/runner/supervisor.py APP): tracebacks name it


def path_problem(rel: str) -> str | None:
    """Why ``rel`` may not be a project file (None: it may): the one path rule.

    Empty, a NUL, control characters or a backslash, absolute (``/``, ``~``, ``C:``), ``..``
    anywhere, ``.git`` anywhere and ``.chatdev`` at the top (in any letter case: case-folding
    filesystems), a name longer than 255 bytes. The workspace applies it to every write, read
    and delete; the reply parser (``artifacts.safe_relpath``) to every path a model names.
    """
    if not isinstance(rel, str) or not rel.strip():
        return "empty"
    if any(ord(c) < 32 for c in rel) or "\\" in rel:
        return "contains a control character or a backslash"
    if rel.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", rel):
        return "absolute paths are not allowed"
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        return "names no file"
    if ".." in parts:
        return "it escapes the project"
    lowered = [p.lower() for p in parts]
    if ".git" in lowered:
        return ".git belongs to git"
    if lowered[0] == CHATDEV_DIR:
        return ".chatdev/ is chatdev's own record"
    if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        return "a name is longer than 255 bytes"
    return None


def clean_relpath(rel: str) -> str:
    """A normalised project-relative path, or WorkspaceError saying why not (``path_problem``)."""
    problem = path_problem(rel)
    if problem is not None:
        hint = "files are written inside the project only" if problem.startswith(("absolute", "it escapes")) else ""
        raise WorkspaceError(f"refused file path {rel!r}: {problem}", hint=hint or None)
    return "/".join(p for p in rel.split("/") if p not in ("", "."))


def sha256_of(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def env_error(exc: OSError, what: str) -> WorkspaceError:
    if exc.errno in _ENV_ERRNOS:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return WorkspaceEnvironmentError(f"cannot {what}: {reason}",
                                         hint="free disk space or make the project folder writable, then retry")
    return WorkspaceError(f"cannot {what}: {exc}")


def write_temp(target: Path, data: bytes) -> Path:
    """Write ``data`` next to ``target`` (fsynced), keeping the mode of an existing target."""
    tmp = target.with_name(f".cd-{secrets.token_hex(6)}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        if target.is_file():
            os.fchmod(fd, stat.S_IMODE(target.stat().st_mode))
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def atomic_write(target: Path, data: bytes, what: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp(target, data)
        os.replace(tmp, target)
    except OSError as exc:
        raise env_error(exc, what) from exc


def mkdirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return those created, outermost first."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir()
    return list(reversed(missing))


def json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
