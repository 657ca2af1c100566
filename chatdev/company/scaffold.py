"""``chatdev init DIR``: copy the shipped company for a user to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from chatdev.company.config import defaults_dir
from chatdev.errors import UsageError, WorkspaceEnvironmentError

COMPANY_FILES = ("company.yaml", "messages.yaml", "roles", "phases")


def init_company(target: Path) -> list[Path]:
    """Copy company.yaml, messages.yaml, roles/ and phases/ into an empty or new folder."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target}: folder exists and is not empty; nothing was changed",
                         hint="pick a new folder name")
    source = defaults_dir()
    created = not target.exists()
    written: list[Path] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in COMPANY_FILES:
            src = source / name
            if src.is_dir():
                for file in sorted(src.glob("*.yaml")):
                    dest = target / name / file.name
                    dest.parent.mkdir(exist_ok=True)
                    shutil.copyfile(file, dest)
                    written.append(dest)
            else:
                shutil.copyfile(src, target / name)
                written.append(target / name)
    except OSError as exc:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        raise WorkspaceEnvironmentError(f"{target}: cannot write the company: {exc.strerror or exc}") from exc
    return written
