"""The generated project: a folder, its git repository and the record in ``.chatdev/``.

The only module that imports ``git`` (GitPython), lazily, with an install hint.
The commit record (authors, messages, trailers, ``CommitInfo``) is :mod:`chatdev.project.gitlog`;
its names are re-exported here. Path rules and atomic writes are :mod:`chatdev.project.paths`.

Layout of a project::

    <project>/                 the program the company wrote (tracked by git)
    <project>/.gitignore       from workspace_templates/gitignore
    <project>/.chatdev/state.json        checkpoint (engine-owned content)   committed
    <project>/.chatdev/transcript.jsonl  every event but Token, one per line   committed
    <project>/.chatdev/workspace.json    company name, adoption base          committed
    <project>/.chatdev/company/          copy of the company config used      committed
    <project>/.git/chatdev-pending.json  journal: files written since the last commit (never committed)

Decisions:

* ``create`` makes one commit of its own (``[init]``, by chatdev: ``.gitignore`` and
  ``.chatdev/workspace.json``), so every project has a HEAD and a chatdev commit.
* A commit is made only when project files (outside ``.chatdev/``) changed; the
  bookkeeping of a phase that changed nothing (state, transcript) rides along with
  the next commit, and ``commit`` returns ``None``. ``bookkeeping=True`` commits the
  record alone (the end of a run).
* Call ``checkpoint(state)`` *before* ``commit``: the commit then holds the state that
  says its phase is done, so any commit is a resumable point.
* Every write is atomic (temp file in the same folder, fsync, rename). All paths
  of one ``write`` are checked, and all temp files written, before any file is
  replaced: a refusal or a full disk leaves the tree as it was.
* The journal in ``.git/`` records what the company wrote (path → sha256) and the
  ``state.json`` it started from. It tells the company's own uncommitted changes
  (a build killed mid-phase; ``reset_to_head`` discards them and rewinds the
  state to the last completed phase) from the user's (refused, never touched).
  ``claim_changes`` journals files something else of ours wrote into the tree.
* Authors are roles (``Programmer <programmer@acme.chatdev>``); the committer is
  always ``chatdev <chatdev@localhost>``, whatever the user's git config says.
  Hooks and signing are switched off for chatdev's own commits.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chatdev.errors import WorkspaceEnvironmentError, WorkspaceError
from chatdev.events import Event, Token
from chatdev.project.gitlog import (
    COMMITTER,
    LOG_FORMAT,
    Author,
    CommitInfo,
    author_for,
    commit_message,
    parse_log,
    parse_trailers,
    slug,
    tokens_trailer,
)
from chatdev.project.paths import (
    CHATDEV_DIR,
    TMP_SUFFIX,
    atomic_write,
    clean_relpath,
    env_error,
    json_default,
    mkdirs,
    sha256_of,
    write_temp,
)

STATE = ".chatdev/state.json"
TRANSCRIPT = ".chatdev/transcript.jsonl"
META = ".chatdev/workspace.json"
COMPANY = ".chatdev/company"
BOOKKEEPING = (STATE, TRANSCRIPT, META, COMPANY)
JOURNAL = "chatdev-pending.json"
EXCLUDES = ["/.chatdev/*", "!/.chatdev/state.json", "!/.chatdev/transcript.jsonl",
            "!/.chatdev/workspace.json", "!/.chatdev/company/", f"*{TMP_SUFFIX}",
            "__pycache__/", "*.py[cod]", ".pytest_cache/"]  # also for adopted repositories without a .gitignore
_GIT_OPTS = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false",
             "-c", "core.quotePath=false", "-c", "color.ui=false"]
_ENV_MARKERS = ("No space left", "Out of diskspace", "Read-only file system", "Permission denied",
                "Operation not permitted", "Disk quota exceeded")
_PROJECT = [".", f":(exclude){CHATDEV_DIR}"]


def _gitlib() -> Any:
    try:
        import git  # GitPython; also fails when no git executable is found
    except ImportError as exc:
        raise WorkspaceEnvironmentError(f"git is not usable from Python: {exc}",
                                        hint="pip install gitpython, and install git") from exc
    return git


# ----------------------------------------------------------------------------- the workspace


class Workspace:
    """One generated project. Make it with ``create``, ``open`` or ``adopt``."""

    def __init__(self, root: Path, *, company_name: str = "ChatDev") -> None:
        self.root = root
        self.company_name = company_name
        self._g = _gitlib().Git(str(root))
        self._gitdir: Path = root / ".git"

    # -- making one

    @classmethod
    def create(cls, path: Path, *, company_name: str) -> Workspace:
        """A new project folder with a fresh repository (branch ``main``), ``.gitignore`` and ``.chatdev/``."""
        root = Path(path).expanduser().absolute()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise WorkspaceError(f"{path} already exists and is not an empty folder",
                                 hint="choose another --name or --out")
        try:
            made = mkdirs(root)
        except OSError as exc:
            raise env_error(exc, f"create {path}") from exc
        try:
            ws = cls(root.resolve(), company_name=company_name)
            ws._run("init", "-q")
            ws._run("symbolic-ref", "HEAD", "refs/heads/main")
            ws._gitdir = ws._find_gitdir()
            ws._ensure_excludes()
            from chatdev.company.config import defaults_dir

            template = defaults_dir() / "workspace_templates" / "gitignore"
            try:
                gitignore = template.read_bytes()
            except OSError as exc:
                raise WorkspaceEnvironmentError(f"cannot read the .gitignore template {template}: {exc.strerror}",
                                                hint="reinstall chatdev") from exc
            atomic_write(root / ".gitignore", gitignore, "write .gitignore")
            ws._write_meta(base=None)
            ws._commit_all(Author(*COMMITTER), f"[init] Create the project for {company_name}\n\n"
                                               "Phase: init\nRole: chatdev\n")
        except BaseException:
            if made:
                shutil.rmtree(made[0], ignore_errors=True)
            else:
                for child in list(root.iterdir()):
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
            raise
        return ws

    @classmethod
    def open(cls, path: Path, *, for_write: bool = True) -> Workspace:
        """An existing chatdev project; refuses anything else with one clear line (exit 2)."""
        root = cls._folder(path)
        if not os.path.lexists(root / STATE):
            if (root / CHATDEV_DIR).is_dir():
                raise WorkspaceError(f"{path} has no .chatdev/state.json: the build stopped before its first "
                                     "checkpoint", hint="remove the folder and run `chatdev build` again")
            raise WorkspaceError(f"{path} is not a chatdev project (no .chatdev/ folder)",
                                 hint="make one with `chatdev build`, or `chatdev improve` a git repository")
        ws = cls._attach(root)
        ws.load_state()
        meta = ws._read_meta()
        ws.company_name = str(meta.get("company_name") or ws.company_name)
        ws._check_history(meta)
        if for_write:
            ws._refuse_user_changes()
            ws._ensure_excludes()
        return ws

    @classmethod
    def adopt(cls, path: Path, *, company_name: str = "ChatDev") -> Workspace:
        """Make an existing git repository (not yet a chatdev project) one, for ``chatdev improve``."""
        root = cls._folder(path)
        if (root / STATE).is_file():
            return cls.open(root)
        ws = cls._attach(root, company_name=company_name)
        dirty = ws._status()
        if dirty:
            raise WorkspaceError(f"{path} has uncommitted changes ({', '.join(sorted(dirty)[:3])}"
                                 f"{', ...' if len(dirty) > 3 else ''}); chatdev will not touch them",
                                 hint="commit or stash them first")
        ws._ensure_excludes()
        ws._write_meta(base=ws.head())
        return ws

    @classmethod
    def inspect(cls, path: Path) -> Workspace:
        """For readers (``chatdev log``, the report): a folder with a git repository at its top, nothing more."""
        ws = cls._attach(cls._folder(path))
        ws.company_name = str(ws._read_meta().get("company_name") or ws.company_name)
        return ws

    @staticmethod
    def is_project(path: Path) -> bool:
        return (Path(path) / STATE).is_file()

    @staticmethod
    def _folder(path: Path) -> Path:
        root = Path(path).expanduser()
        if not root.exists():
            raise WorkspaceError(f"{path}: no such folder", hint="check the path to the project folder")
        if not root.is_dir():
            raise WorkspaceError(f"{path} is not a folder", hint="give the project's folder, not a file in it")
        return root.resolve()

    @classmethod
    def _attach(cls, root: Path, *, company_name: str = "ChatDev") -> Workspace:
        if not (root / ".git").exists():
            raise WorkspaceError(f"{root} is not a git repository", hint="run `git init` there first")
        ws = cls(root, company_name=company_name)
        try:
            top = ws._run("rev-parse", "--show-toplevel").strip()
        except WorkspaceEnvironmentError:
            raise
        except WorkspaceError as exc:
            raise WorkspaceError(f"{root} is not a usable git repository: {str(exc).split(': ', 1)[-1]}") from exc
        if Path(top).resolve() != root:
            raise WorkspaceError(f"{root} is inside the git repository {top}, not the top of one")
        ws._gitdir = ws._find_gitdir()
        return ws

    def _find_gitdir(self) -> Path:
        gitdir = Path(self._run("rev-parse", "--git-dir").strip())
        return gitdir if gitdir.is_absolute() else (self.root / gitdir).resolve()

    # -- running git

    def _run(self, *args: str, env: Mapping[str, str] | None = None, literal: bool = False) -> str:
        git = _gitlib()
        full_env = {"GIT_CEILING_DIRECTORIES": str(self.root.parent), "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        if literal:
            full_env["GIT_LITERAL_PATHSPECS"] = "1"
        try:
            return str(self._g.execute(["git", *_GIT_OPTS, *args], env=full_env, strip_newline_in_stdout=False))
        except git.exc.GitCommandError as exc:
            text = str(exc.stderr or "").strip().replace("stderr: ", "").strip("' \n")
            first = next((line.strip() for line in text.splitlines() if line.strip()), f"exit code {exc.status}")
            if any(marker in text for marker in _ENV_MARKERS):
                raise WorkspaceEnvironmentError(f"git {args[0]} failed in {self.root}: {first}",
                                                hint="free disk space or make the project writable") from exc
            raise WorkspaceError(f"git {args[0]} failed in {self.root}: {first}") from exc

    def head(self) -> str | None:
        try:
            return self._run("rev-parse", "--verify", "-q", "HEAD^{commit}").strip() or None
        except WorkspaceError:
            return None

    def _status(self, *, all_paths: bool = False) -> list[str]:
        """Paths that differ from HEAD (staged, unstaged or untracked-not-ignored)."""
        spec = [] if all_paths else _PROJECT
        out = self._run("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", *spec,
                        env={"GIT_OPTIONAL_LOCKS": "0"})
        return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})

    def is_dirty(self, ignore_chatdev: bool = True) -> bool:
        return bool(self._status(all_paths=not ignore_chatdev))

    # -- files

    def _check_on_disk(self, rel: str) -> Path:
        cur = self.root
        parts = rel.split("/")
        for i, part in enumerate(parts):
            cur = cur / part
            if cur.is_symlink():
                raise WorkspaceError(f"refused file path {rel!r}: {'/'.join(parts[:i + 1])} is a symlink",
                                     hint="chatdev never writes through symlinks")
            if i < len(parts) - 1 and cur.exists() and not cur.is_dir():
                raise WorkspaceError(f"refused file path {rel!r}: {'/'.join(parts[:i + 1])} is a file")
        if cur.is_dir():
            raise WorkspaceError(f"refused file path {rel!r}: it is a folder")
        return cur

    def write(self, files: Mapping[str, str | bytes]) -> list[str]:
        """Write files atomically (text as UTF-8, bytes as they are); return the relative paths whose
        content changed."""
        plan: dict[str, tuple[Path, bytes]] = {}
        for rel, text in files.items():
            clean = clean_relpath(rel)
            target = self._check_on_disk(clean)
            if clean in plan:
                raise WorkspaceError(f"refused file path {rel!r}: the same file is given twice")
            if isinstance(text, bytes):
                plan[clean] = (target, text)
                continue
            if not isinstance(text, str):
                raise WorkspaceError(f"{clean}: content is not text")
            try:
                plan[clean] = (target, text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise WorkspaceError(f"{clean}: content cannot be encoded as UTF-8: {exc.reason}") from exc
        folders = {"/".join(rel.split("/")[:i]) for rel in plan for i in range(1, rel.count("/") + 1)}
        if clash := sorted(folders & plan.keys()):
            raise WorkspaceError(f"refused file path {clash[0]!r}: it is given both as a file and as a folder")
        try:
            changed = {rel: (t, d) for rel, (t, d) in plan.items() if not (t.is_file() and t.read_bytes() == d)}
        except OSError as exc:
            raise env_error(exc, "read the files to be replaced") from exc
        if not changed:
            return []
        temps: list[tuple[Path, Path]] = []
        made: list[Path] = []
        try:
            for target, data in changed.values():
                made += mkdirs(target.parent)
                temps.append((write_temp(target, data), target))
            self._journal_add({rel: sha256_of(d) for rel, (_, d) in changed.items()})
        except OSError as exc:
            for tmp, _ in temps:
                tmp.unlink(missing_ok=True)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise env_error(exc, f"write {', '.join(list(changed)[:3])}") from exc
        for tmp, target in temps:
            os.replace(tmp, target)
        return list(changed)

    def read(self, rel: str) -> str:
        clean = clean_relpath(rel)
        target = self._check_on_disk(clean)
        try:
            return target.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError as exc:
            raise WorkspaceError(f"{clean}: no such file in {self.root}") from exc
        except OSError as exc:
            raise env_error(exc, f"read {clean}") from exc

    def files(self) -> list[str]:
        """Project files: tracked and untracked, not ignored, not .chatdev/, present on disk."""
        out = self._run("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *_PROJECT)
        return sorted({p for p in out.split("\0") if p and os.path.lexists(self.root / p)})

    def restore(self, sha: str) -> list[str]:
        """Put the project files back as they were at commit ``sha`` (a fix that made things worse).

        Journaled like any write; the caller commits it, so the attempt stays in the history.
        """
        out = self._run("diff", "--name-only", "-z", "--no-renames", sha, "--", *_PROJECT)
        changed = sorted({p for p in out.split("\0") if p} | set(self._status()))
        writes: dict[str, str] = {}
        gone: list[str] = []
        for rel in changed:
            if rel.startswith(".chatdev/"):
                continue
            try:
                writes[rel] = self._run("show", f"{sha}:{rel}", literal=True)
            except WorkspaceError:
                gone.append(rel)  # the file did not exist then
        return sorted(set(self.write(writes)) | set(self.delete(gone)))

    def delete(self, paths: Iterable[str]) -> list[str]:
        """Remove files (paths checked first); return those that existed."""
        targets = {clean_relpath(p): None for p in paths}
        found = {rel: self._check_on_disk(rel) for rel in targets}
        found = {rel: t for rel, t in found.items() if t.exists()}
        if not found:
            return []
        try:
            self._journal_add({rel: None for rel in found})
            for target in found.values():
                target.unlink()
                self._prune(target.parent)
        except OSError as exc:
            raise env_error(exc, f"delete {', '.join(found)}") from exc
        return list(found)

    def _prune(self, folder: Path) -> None:
        while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    # -- the journal of uncommitted company writes (in .git/, never committed)

    def _journal_path(self) -> Path:
        return self._gitdir / JOURNAL

    def _journal(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self._journal_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None

    def _journal_add(self, entries: Mapping[str, str | None]) -> None:
        journal = self._journal()
        head = self.head()
        if journal is None or journal.get("head") != head:
            state = self.root / STATE
            journal = {"head": head, "state": state.read_text(encoding="utf-8") if state.is_file() else None,
                       "files": {}}
        journal["files"].update(entries)
        path = self._journal_path()
        tmp = write_temp(path, json.dumps(journal).encode("utf-8"))
        os.replace(tmp, path)

    def _journal_clear(self) -> None:
        self._journal_path().unlink(missing_ok=True)

    def pending(self) -> list[str]:
        """Files the company wrote or deleted since the last commit."""
        journal = self._journal()
        return sorted(journal["files"]) if journal and journal.get("head") == self.head() else []

    def claim_changes(self) -> list[str]:
        """Record every current uncommitted project change as the company's (after a sandbox run wrote files)."""
        changed = self._status()
        entries: dict[str, str | None] = {}
        for rel in changed:
            target = self.root / rel
            entries[rel] = sha256_of(target.read_bytes()) if target.is_file() and not target.is_symlink() else None
        if entries:
            try:
                self._journal_add(entries)
            except OSError as exc:
                raise env_error(exc, "write the journal in .git/") from exc
        return changed

    def _refuse_user_changes(self) -> None:
        journal = self._journal()
        ours = journal["files"] if journal and journal.get("head") == self.head() else {}
        theirs = []
        for rel in self._status():
            target = self.root / rel
            current = target.read_bytes() if target.is_file() and not target.is_symlink() else None
            if rel not in ours or sha256_of(current) != ours[rel]:
                theirs.append(rel)
        if theirs:
            raise WorkspaceError(f"{self.root} has changes chatdev did not make ({', '.join(theirs[:3])}"
                                 f"{', ...' if len(theirs) > 3 else ''}); they will not be overwritten",
                                 hint="commit or stash them first")

    def reset_to_head(self) -> list[str]:
        """Discard the company's own uncommitted writes (after a crash) and rewind state.json to match.

        The user's changes are never touched. Returns the paths restored or removed.
        """
        journal = self._journal()
        lock = self._gitdir / "index.lock"
        with contextlib.suppress(OSError):
            if journal is not None or time.time() - lock.stat().st_mtime > 10:
                lock.unlink()  # left behind by a git command of ours that was killed
        restored: list[str] = []
        head = self.head()
        try:
            if journal is not None and journal.get("head") == head:
                restored = self._restore(journal, head)
            for folder, dirs, names in os.walk(self.root):
                dirs[:] = [d for d in dirs if d != ".git"]
                for name in names:
                    if name.startswith(".cd-") and name.endswith(TMP_SUFFIX):
                        Path(folder, name).unlink()
        except OSError as exc:
            raise env_error(exc, "restore the last commit") from exc
        self._journal_clear()
        return restored

    def _restore(self, journal: Mapping[str, Any], head: str | None) -> list[str]:
        """Put the journaled paths back as HEAD has them; a path someone changed since is left alone."""
        paths = []
        for rel, written in sorted(journal["files"].items()):
            target = self.root / rel
            current = target.read_bytes() if target.is_file() and not target.is_symlink() else None
            if sha256_of(current) == written:
                paths.append(rel)
        tracked: set[str] = set()
        if head and paths:
            tracked = set(self._run("ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *paths,
                                    literal=True).split("\0")) - {""}
            self._run("reset", "-q", "HEAD", "--", *paths, literal=True)
            if tracked:
                self._run("checkout", "HEAD", "--", *sorted(tracked), literal=True)
        elif paths:
            self._run("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *paths, literal=True)
        for rel in paths:
            target = self.root / rel
            if rel not in tracked and (target.is_file() or target.is_symlink()):
                target.unlink()
                self._prune(target.parent)
        if journal.get("state") is not None:
            atomic_write(self.root / STATE, str(journal["state"]).encode("utf-8"), "restore state.json")
        return paths

    # -- commits, tags, history

    def commit(self, *, role: str, phase: str, summary: str, trailers: Mapping[str, str],
               model: str | None = None, bookkeeping: bool = False) -> str | None:
        """Commit everything as ``role``; ``None`` (no commit) when no project file changed.

        The bookkeeping (state, transcript, company copy) is always staged with it. With
        ``bookkeeping`` a commit is made even when only the bookkeeping changed (the
        end of a build, so the tagged commit holds the whole transcript).
        """
        if not self._status(all_paths=bookkeeping):
            self._journal_clear()
            return None
        author = author_for(role, self.company_name)
        message = commit_message(role=author.name, phase=phase, summary=summary, trailers=trailers, model=model)
        self._commit_all(author, message)
        self._journal_clear()
        return self.head()

    def _commit_all(self, author: Author, message: str) -> None:
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]}
        try:
            self._run("add", "-A", "--", *_PROJECT)
            book = [p for p in BOOKKEEPING if (self.root / p).exists()]
            if book:
                self._run("add", "-A", "-f", "--", *book)
            self._run("commit", "-q", "--no-verify", "--cleanup=whitespace", "-m", message, env=env)
        except WorkspaceError:
            with contextlib.suppress(WorkspaceError):
                self._run("reset", "-q")  # leave the index as it was
            raise

    def tag(self, name: str) -> None:
        if not self.head():
            raise WorkspaceError(f"cannot tag {name}: nothing is committed yet")
        if name.startswith("-"):
            raise WorkspaceError(f"not a valid tag name: {name!r}")
        try:
            self._run("check-ref-format", f"refs/tags/{name}")
        except WorkspaceError as exc:
            raise WorkspaceError(f"not a valid tag name: {name!r}") from exc
        if name in self._run("tag", "--list").split():
            raise WorkspaceError(f"tag {name} already exists in {self.root}")
        self._run("tag", "-a", name, "-m", f"chatdev {name}",
                  env={"GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]})

    def tags(self) -> list[str]:
        return self._run("tag", "--list").split()

    def next_version_tag(self) -> str:
        numbers = [int(m.group(1)) for t in self.tags() if (m := re.fullmatch(r"v(\d+)", t))]
        return f"v{max(numbers, default=0) + 1}"

    def history(self) -> list[CommitInfo]:
        """Commits of HEAD, oldest first; files and line counts cover project files only."""
        if not self.head():
            return []
        out = self._run("log", "--reverse", "--no-renames", "--numstat", f"--format={LOG_FORMAT}", "HEAD")
        return parse_log(out, skip_prefix=CHATDEV_DIR + "/")

    def diff(self, sha: str, *, include_chatdev: bool = False) -> str:
        """The patch of one commit (project files only unless ``include_chatdev``)."""
        if not re.fullmatch(r"[0-9a-fA-F]{4,40}|v\d+|HEAD(~\d+)?", sha):
            raise WorkspaceError(f"not a commit: {sha!r}")
        try:
            full = self._run("rev-parse", "--verify", "-q", f"{sha}^{{commit}}").strip()
        except WorkspaceError as exc:
            raise WorkspaceError(f"no commit {sha} in {self.root}") from exc
        spec = ["."] if include_chatdev else _PROJECT
        return self._run("show", "--format=", "--patch", "--no-renames", "--no-ext-diff", full, "--",
                         *spec).lstrip("\n")

    def _check_history(self, meta: Mapping[str, Any]) -> None:
        head = self.head()
        if head is None or meta.get("base") == head:
            return
        if not self._run("log", "-1", "-F", f"--committer=<{COMMITTER[1]}>", "--format=%H", "HEAD").strip():
            raise WorkspaceError(f"{self.root} is a git repository with unrelated history: no commit in it was "
                                 "made by chatdev", hint="point chatdev at the project folder it built")

    # -- the record in .chatdev/

    def _ensure_excludes(self) -> None:
        path = self._gitdir / "info" / "exclude"
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            missing = [line for line in EXCLUDES if line not in text.splitlines()]
            if missing:
                atomic_write(path, (text.rstrip("\n") + "\n# chatdev\n" + "\n".join(missing) + "\n")
                              .lstrip("\n").encode("utf-8"), "write .git/info/exclude")
        except OSError as exc:
            raise env_error(exc, "write .git/info/exclude") from exc

    def _read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_meta(self, *, base: str | None) -> None:
        meta = {"format": 1, "company_name": self.company_name, "base": base,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic_write(self.root / META, (json.dumps(meta, indent=2) + "\n").encode("utf-8"), "write .chatdev/")

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        """Atomically replace ``.chatdev/state.json``."""
        data = json.dumps(state, indent=2, ensure_ascii=False, default=json_default) + "\n"
        atomic_write(self.root / STATE, data.encode("utf-8"), "write .chatdev/state.json")

    def load_state(self) -> dict[str, Any]:
        path = self.root / STATE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise WorkspaceError(f"{self.root} is not a chatdev project (no .chatdev/state.json)") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"cannot read {path}: {exc}") from exc
        except ValueError as exc:
            raise WorkspaceError(f"{path} is corrupted: {exc}",
                                 hint=f"restore it with `git -C {self.root} checkout -- {STATE}`") from exc
        if not isinstance(data, dict):
            raise WorkspaceError(f"{path} is corrupted: expected a JSON object",
                                 hint=f"restore it with `git -C {self.root} checkout -- {STATE}`")
        return data

    def record(self, event: Event) -> None:
        """Append one event as a JSON line to the transcript (``Token`` events are skipped)."""
        if isinstance(event, Token):
            return
        line = (json.dumps(event.to_dict(), ensure_ascii=False, default=json_default) + "\n").encode("utf-8")
        path = self.root / TRANSCRIPT
        existed = path.exists()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise env_error(exc, "write .chatdev/transcript.jsonl") from exc
        size = os.fstat(fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            try:
                os.ftruncate(fd, size)  # no torn line left behind
                if not existed:
                    path.unlink()
            except OSError:
                pass
            raise env_error(exc, "write .chatdev/transcript.jsonl") from exc
        finally:
            os.close(fd)

    def transcript(self) -> list[dict[str, Any]]:
        """The recorded events; a torn or unreadable line is skipped."""
        path = self.root / TRANSCRIPT
        if not path.is_file():
            return []
        events = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                events.append(item)
        return events

    def save_company(self, sources: Mapping[str, str]) -> None:
        """Replace ``.chatdev/company/`` with the company files used (relative path → text)."""
        cleaned = {clean_relpath(rel): text for rel, text in sources.items()}
        dest = self.root / COMPANY
        fresh = dest.with_name(f".company-{secrets.token_hex(4)}{TMP_SUFFIX}")
        old = dest.with_name(f".company-old-{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            for rel, text in cleaned.items():
                target = fresh / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            if dest.exists():
                dest.rename(old)
            fresh.rename(dest)
        except OSError as exc:
            shutil.rmtree(fresh, ignore_errors=True)
            if old.exists() and not dest.exists():
                old.rename(dest)
            raise env_error(exc, "write .chatdev/company/") from exc
        shutil.rmtree(old, ignore_errors=True)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


__all__ = ["BOOKKEEPING", "CHATDEV_DIR", "COMMITTER", "COMPANY", "EXCLUDES", "JOURNAL", "META", "STATE", "TMP_SUFFIX",
           "TRANSCRIPT", "Author", "CommitInfo", "Workspace", "author_for", "clean_relpath", "commit_message",
           "parse_trailers", "slug", "tokens_trailer"]
