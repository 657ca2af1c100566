"""A read-only folder and a full disk: exit 3, one clear line, the repository left as it was.

These need root (bind mounts, tmpfs, chattr); each test skips with its reason where the
machine does not allow it.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdev.errors import WorkspaceEnvironmentError
from chatdev.events import Message
from chatdev.project.workspace import STATE, TRANSCRIPT, Workspace

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for mount and chattr")


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def snapshot(root: Path) -> dict[str, object]:
    """Files outside .git, HEAD, refs and git status: what a user would see changed."""
    files = {str(p.relative_to(root)): p.read_bytes() if p.is_file() else "dir"
             for p in sorted(root.rglob("*")) if p.relative_to(root).parts[0] != ".git"}
    git = ["git", "-C", str(root)]
    return {"files": files,
            "head": _sh(*git, "rev-parse", "HEAD").stdout,
            "refs": _sh(*git, "show-ref").stdout,
            "status": _sh(*git, "status", "--porcelain", "--untracked-files=all").stdout}


def built(ws: Workspace) -> str:
    ws.write({"main.py": "print('snake')\n", "game/board.py": "SIZE = 10\n"})
    ws.checkpoint({"position": 1})
    sha = ws.commit(role="Programmer", phase="coding", summary="Implement 2 files", trailers={})
    assert sha
    return sha


def _sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True)


@pytest.fixture()
def project(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "proj", company_name="Acme")
    ws.checkpoint({"position": 0})
    built(ws)
    ws.write({"main.py": "print('waiting for its commit')\n"})
    return ws


@pytest.fixture()
def read_only_bind(project: Workspace) -> Iterator[Workspace]:
    root = str(project.root)
    if _sh("mount", "--bind", root, root).returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        if _sh("mount", "-o", "remount,ro,bind", root).returncode != 0:
            pytest.skip("read-only remount is not permitted here")
        yield project
    finally:
        _sh("umount", "-l", root)


@pytest.fixture()
def immutable(project: Workspace) -> Iterator[Workspace]:
    if shutil.which("chattr") is None or _sh("chattr", "-R", "+i", str(project.root)).returncode != 0:
        _sh("chattr", "-R", "-i", str(project.root))
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        yield project
    finally:
        _sh("chattr", "-R", "-i", str(project.root))


def _every_write_refused(ws: Workspace, *, commit: bool) -> None:
    before = snapshot(ws.root)
    attempts = [
        lambda: ws.write({"new.py": "print(1)\n"}),
        lambda: ws.write({"main.py": "print('changed')\n", "pkg/mod.py": "x = 1\n"}),
        lambda: ws.checkpoint({"position": 99}),
        lambda: ws.record(Message(phase="coding", sender="CTO", receiver="Programmer", text="hi")),
    ]
    if commit:
        attempts.append(lambda: ws.commit(role="Programmer", phase="coding", summary="x", trailers={},
                                          bookkeeping=True))
    for attempt in attempts:
        with pytest.raises(WorkspaceEnvironmentError) as err:
            attempt()
        assert err.value.exit_code == 3 and "\n" not in err.value.line()
        assert snapshot(ws.root) == before
    assert ws.load_state() == {"position": 1}


def test_read_only_folder(read_only_bind: Workspace) -> None:
    ws = read_only_bind
    assert _sh("touch", str(ws.root / "probe")).returncode != 0
    ws = Workspace.open(ws.root)  # opening does not need to write
    _every_write_refused(ws, commit=True)
    with pytest.raises(WorkspaceEnvironmentError, match="Read-only file system"):
        ws.write({"a.py": "1\n"})


def test_read_only_folder_refuses_a_commit_and_keeps_head(project: Workspace) -> None:
    project.write({"main.py": "print('ready to commit')\n"})
    head = project.head()
    root = str(project.root)
    if _sh("mount", "--bind", root, root).returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        if _sh("mount", "-o", "remount,ro,bind", root).returncode != 0:
            pytest.skip("read-only remount is not permitted here")
        before = snapshot(project.root)
        with pytest.raises(WorkspaceEnvironmentError) as err:
            project.commit(role="Programmer", phase="coding", summary="x", trailers={})
        assert err.value.exit_code == 3
        assert snapshot(project.root) == before and project.head() == head
    finally:
        _sh("umount", "-l", root)
    assert project.commit(role="Programmer", phase="coding", summary="x", trailers={})  # writable again: fine


def test_immutable_folder(immutable: Workspace) -> None:
    _every_write_refused(immutable, commit=True)


def test_create_under_a_read_only_parent(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    if _sh("mount", "--bind", str(parent), str(parent)).returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        if _sh("mount", "-o", "remount,ro,bind", str(parent)).returncode != 0:
            pytest.skip("read-only remount is not permitted here")
        with pytest.raises(WorkspaceEnvironmentError) as err:
            Workspace.create(parent / "new_project", company_name="Acme")
        assert err.value.exit_code == 3
        assert list(parent.iterdir()) == []
    finally:
        _sh("umount", "-l", str(parent))


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if _sh("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield disk
    finally:
        _sh("umount", "-l", str(disk))


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full(tiny_disk: Path) -> None:
    ws = Workspace.create(tiny_disk / "proj", company_name="Acme")
    ws.checkpoint({"position": 0})
    built(ws)
    ws.write({"main.py": "print('staged for the next commit')\n" * 50})
    ws.record(Message(phase="coding", sender="CTO", receiver="Programmer", text="before the disk filled"))
    filler = _fill(tiny_disk)
    before = snapshot(ws.root)
    head = ws.head()
    big = "x = 1\n" * 5000
    attempts = [
        lambda: ws.write({"big.py": big}),
        lambda: ws.write({"game/board.py": big, "other/new.py": big}),
        lambda: ws.checkpoint({"position": 2, "notes": big}),
        lambda: ws.record(Message(phase="coding", sender="CTO", receiver="Programmer", text=big)),
        lambda: ws.commit(role="Programmer", phase="coding", summary="x", trailers={}),
    ]
    for attempt in attempts:
        with pytest.raises(WorkspaceEnvironmentError, match="No space left") as err:
            attempt()
        assert err.value.exit_code == 3
        assert snapshot(ws.root) == before, attempt
        assert ws.head() == head
    assert not list(ws.root.rglob("*.chatdev-tmp"))
    assert ws.load_state() == {"position": 1}
    assert (ws.root / TRANSCRIPT).read_bytes() == before["files"][TRANSCRIPT]
    assert (ws.root / STATE).exists()
    filler.unlink()  # space again: the same project carries on
    assert ws.commit(role="Programmer", phase="coding", summary="after the disk was freed", trailers={})
    assert not ws.is_dirty()
