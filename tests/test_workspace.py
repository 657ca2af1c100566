"""The generated project as a git repository: real git in temporary folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chatdev.errors import WorkspaceEnvironmentError, WorkspaceError
from chatdev.events import Message, PhaseEnded, PhaseStarted, Token
from chatdev.project.workspace import (
    COMMITTER,
    STATE,
    TRANSCRIPT,
    Author,
    Workspace,
    author_for,
    clean_relpath,
    commit_message,
    parse_trailers,
    tokens_trailer,
)

REPO = Path(__file__).resolve().parent.parent
TRAILERS = {"Tokens": tokens_trailer(120, 45, 30), "Duration": "3.2s"}


@pytest.fixture(autouse=True)
def hostile_git_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user whose git has no identity, wants every commit signed and has a failing pre-commit hook."""
    home = tmp_path_factory.mktemp("home")
    hooks = home / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "post-commit"):
        (hooks / name).write_text("#!/bin/sh\necho hook ran >&2\nexit 1\n")
        (hooks / name).chmod(0o755)
    config = home / "gitconfig"
    config.write_text(f"[user]\n\tuseConfigOnly = true\n[commit]\n\tgpgSign = true\n[tag]\n\tgpgSign = true\n"
                      f"[core]\n\thooksPath = {hooks}\n[init]\n\tdefaultBranch = trunk\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    return config


def git(root: Path, *args: str) -> str:
    """Plain git as a user would run it (with an identity for the user's own commits)."""
    return subprocess.run(["git", "-c", "user.name=Ada User", "-c", "user.email=ada@example.org",
                           "-c", "commit.gpgSign=false", "-c", "core.hooksPath=/dev/null", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout


def snapshot(root: Path) -> dict[str, object]:
    """Everything a user could see changed: files (outside .git), HEAD, refs, git status."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git":
            continue
        files[str(rel)] = path.readlink() if path.is_symlink() else (path.read_bytes() if path.is_file() else "dir")
    head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True,
                          text=True).stdout if (root / ".git").exists() else None
    status = git(root, "status", "--porcelain", "--untracked-files=all") if (root / ".git").exists() else None
    refs = git(root, "show-ref") if head else None
    return {"files": files, "head": head, "status": status, "refs": refs}


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "snake_game", company_name="Acme Soft")
    ws.checkpoint({"position": 0, "outputs": {}})
    return ws


def built(ws: Workspace) -> str:
    """One phase's worth of work, committed."""
    ws.record(PhaseStarted(phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]))
    ws.write({"main.py": "print('snake')\n", "game/board.py": "SIZE = 10\n"})
    ws.checkpoint({"position": 1})
    sha = ws.commit(role="Programmer", phase="coding", summary="Implement 2 files", trailers=TRAILERS,
                    model="qwen2.5-coder-0.5b")
    assert sha
    return sha


# ----------------------------------------------------------------------------- create


def test_create_makes_a_repository_on_main_with_gitignore_and_chatdev(ws: Workspace) -> None:
    root = ws.root
    assert git(root, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (root / ".gitignore").read_text() == (REPO / "workspace_templates" / "gitignore").read_text()
    assert (root / ".chatdev").is_dir()
    assert json.loads((root / ".chatdev/workspace.json").read_text())["company_name"] == "Acme Soft"
    # the initial commit is chatdev's own; the user's git config (no identity, signing, failing hooks) is ignored
    log = git(root, "log", "--format=%an <%ae>|%cn <%ce>|%s").strip().splitlines()
    assert log == ["chatdev <chatdev@localhost>|chatdev <chatdev@localhost>|[init] Create the project for Acme Soft"]
    assert git(root, "ls-files").split() == [".chatdev/workspace.json", ".gitignore"]
    assert ws.files() == [".gitignore"]
    assert not ws.is_dirty()


def test_create_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    before = snapshot(target)
    with pytest.raises(WorkspaceError, match="not an empty folder") as err:
        Workspace.create(target, company_name="X")
    assert err.value.exit_code == 2
    assert snapshot(target) == before
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(WorkspaceError):
        Workspace.create(a_file, company_name="X")
    assert a_file.read_text() == "x"


def test_create_in_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    ws = Workspace.create(tmp_path / "empty", company_name="X")
    assert ws.head() is not None


def test_author_for_is_the_role_at_the_company() -> None:
    assert author_for("Programmer", "Acme Soft!") == Author("Programmer", "programmer@acme-soft.chatdev")
    assert author_for("Code Reviewer", "ChatDev") == Author("Code Reviewer", "code-reviewer@chatdev.chatdev")
    assert author_for("<evil>\n", "") .email == "evil@company.chatdev"


# ----------------------------------------------------------------------------- commits


def test_commit_is_authored_by_the_role_committed_by_chatdev_with_trailers(ws: Workspace) -> None:
    sha = built(ws)
    root = ws.root
    assert git(root, "log", "-1", "--format=%H").strip() == sha
    assert git(root, "log", "-1", "--format=%an <%ae>").strip() == "Programmer <programmer@acme-soft.chatdev>"
    assert git(root, "log", "-1", "--format=%cn <%ce>").strip() == f"{COMMITTER[0]} <{COMMITTER[1]}>"
    assert git(root, "log", "-1", "--format=%s").strip() == "[coding] Implement 2 files"
    trailers = git(root, "log", "-1", "--format=%(trailers:only,unfold)").strip().splitlines()
    assert trailers == ["Phase: coding", "Role: Programmer", "Model: qwen2.5-coder-0.5b",
                        "Tokens: prompt=120 completion=45 cached=30", "Duration: 3.2s"]
    committed = git(root, "show", "--name-only", "--format=", sha).split()
    assert set(committed) == {"main.py", "game/board.py", STATE, TRANSCRIPT}
    assert json.loads(git(root, "show", f"{sha}:{STATE}")) == {"position": 1}
    assert not ws.is_dirty(ignore_chatdev=False)


def test_a_phase_that_changed_nothing_makes_no_commit_its_record_rides_with_the_next(ws: Workspace) -> None:
    first = built(ws)
    assert ws.write({"main.py": "print('snake')\n"}) == []  # same content: nothing changed
    ws.record(PhaseStarted(phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"]))
    ws.checkpoint({"position": 2, "verdicts": {"approved": False}})
    assert ws.commit(role="CTO", phase="code_review", summary="Review", trailers=TRAILERS) is None
    assert ws.head() == first
    assert ws.is_dirty(ignore_chatdev=False) and not ws.is_dirty()
    ws.write({"main.py": "print('snake!')\n"})
    ws.checkpoint({"position": 3})
    second = ws.commit(role="Programmer", phase="code_fix", summary="Fix review", trailers=TRAILERS)
    assert second and second != first
    assert json.loads(git(ws.root, "show", f"{second}:{STATE}")) == {"position": 3}
    assert "code_review" in git(ws.root, "show", f"{second}:{TRANSCRIPT}")


def test_bookkeeping_commits_the_bookkeeping(ws: Workspace) -> None:
    built(ws)
    ws.record(PhaseEnded(phase="coding", status="done", duration=1.0))
    assert ws.commit(role="CEO", phase="build", summary="Record", trailers={}) is None
    sha = ws.commit(role="CEO", phase="build", summary="Record the run", trailers={}, bookkeeping=True)
    assert sha and git(ws.root, "show", "--name-only", "--format=", sha).split() == [TRANSCRIPT]


def test_commit_message_format_and_trailer_parsing() -> None:
    msg = commit_message(role="Tester", phase="test_run", summary="Run the\ntests", trailers={"Duration": "2s"},
                         model=None)
    assert msg.splitlines()[0] == "[test_run] Run the tests"
    assert parse_trailers(msg) == {"Phase": "test_run", "Role": "Tester", "Duration": "2s"}
    with pytest.raises(ValueError):
        commit_message(role="T", phase="p", summary="s", trailers={"Bad Key": "x"})
    assert parse_trailers("subject only") == {}


def test_tags_and_next_version(ws: Workspace) -> None:
    assert ws.next_version_tag() == "v1"
    built(ws)
    ws.tag(ws.next_version_tag())
    assert ws.next_version_tag() == "v2"
    ws.write({"main.py": "print(2)\n"})
    ws.commit(role="Programmer", phase="coding", summary="More", trailers={})
    ws.tag("v2")
    assert set(ws.tags()) == {"v1", "v2"}
    assert git(ws.root, "rev-parse", "v2^{commit}").strip() == ws.head()
    assert git(ws.root, "for-each-ref", "--format=%(taggername)", "refs/tags/v1").strip() == "chatdev"
    with pytest.raises(WorkspaceError, match="already exists"):
        ws.tag("v1")
    with pytest.raises(WorkspaceError, match="not a valid tag"):
        ws.tag("bad..name")


def test_history_and_diff(ws: Workspace) -> None:
    sha = built(ws)
    history = ws.history()
    assert [c.subject for c in history] == ["[init] Create the project for Acme Soft", "[coding] Implement 2 files"]
    last = history[-1]
    assert last.sha == sha and last.author_name == "Programmer" and last.by_chatdev
    assert last.author_email == "programmer@acme-soft.chatdev"
    assert last.trailers["Tokens"] == "prompt=120 completion=45 cached=30"
    assert sorted(last.files) == ["game/board.py", "main.py"]  # .chatdev/ bookkeeping is not counted
    assert (last.insertions, last.deletions) == (2, 0)
    assert json.loads(json.dumps(last.to_dict()))["short"] == sha[:8]
    patch = ws.diff(sha)
    assert "+print('snake')" in patch and "+SIZE = 10" in patch and ".chatdev" not in patch
    assert ".chatdev/state.json" in ws.diff(sha, include_chatdev=True)
    with pytest.raises(WorkspaceError):
        ws.diff("--output=/tmp/x")
    with pytest.raises(WorkspaceError):
        ws.diff("deadbeef")


# ----------------------------------------------------------------------------- files and paths


@pytest.mark.parametrize("bad", ["../x.py", "/etc/x", "a/../../x.py", "~/x", ".git/config", "sub/.git/hooks/x",
                                 ".chatdev/state.json", "", "a\\b.py", "x\x00y"])
def test_paths_that_escape_are_refused_before_anything_is_written(ws: Workspace, bad: str) -> None:
    before = snapshot(ws.root)
    with pytest.raises(WorkspaceError, match="refused file path") as err:
        ws.write({"good.py": "x = 1\n", bad: "oops\n"})
    assert err.value.exit_code == 2
    assert snapshot(ws.root) == before


def test_symlinks_inside_the_project_are_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.root / "link").symlink_to(outside)
    (ws.root / "passwd").symlink_to("/etc/passwd")
    before = snapshot(ws.root)
    for bad in ("link/evil.py", "passwd"):
        with pytest.raises(WorkspaceError, match="symlink"):
            ws.write({"good.py": "x\n", bad: "evil\n"})
        with pytest.raises(WorkspaceError, match="symlink"):
            ws.read(bad)
    assert snapshot(ws.root) == before
    assert list(outside.iterdir()) == []


def test_write_is_normalised_and_reports_only_changes(ws: Workspace) -> None:
    assert clean_relpath("./src//app.py") == "src/app.py"
    assert ws.write({"./src//app.py": "a\n", "README.md": "# r\n"}) == ["src/app.py", "README.md"]
    assert ws.write({"src/app.py": "a\n", "README.md": "# r2\n"}) == ["README.md"]
    assert ws.read("src/app.py") == "a\n"
    assert not list(ws.root.rglob("*.chatdev-tmp"))
    with pytest.raises(WorkspaceError, match="twice"):
        ws.write({"a.py": "1", "./a.py": "2"})
    with pytest.raises(WorkspaceError, match="is a file"):
        ws.write({"README.md/x.py": "1"})
    with pytest.raises(WorkspaceError, match="folder"):
        ws.write({"src": "1"})
    before = snapshot(ws.root)
    with pytest.raises(WorkspaceError, match="both as a file and as a folder"):
        ws.write({"lib": "1", "lib/x.py": "2"})
    assert snapshot(ws.root) == before


def test_write_keeps_the_mode_of_an_existing_file(ws: Workspace) -> None:
    ws.write({"run.sh": "#!/bin/sh\n"})
    (ws.root / "run.sh").chmod(0o755)
    ws.write({"run.sh": "#!/bin/sh\necho hi\n"})
    assert (ws.root / "run.sh").stat().st_mode & 0o777 == 0o755


def test_files_and_delete(ws: Workspace) -> None:
    built(ws)
    ws.write({"extra/new.py": "n = 1\n"})
    (ws.root / "__pycache__").mkdir()
    (ws.root / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert ws.files() == [".gitignore", "extra/new.py", "game/board.py", "main.py"]
    assert ws.delete(["extra/new.py", "missing.py"]) == ["extra/new.py"]
    assert not (ws.root / "extra").exists()
    assert ws.delete(["game/board.py"]) == ["game/board.py"]
    assert ws.files() == [".gitignore", "main.py"]
    with pytest.raises(WorkspaceError):
        ws.delete(["../x"])
    sha = ws.commit(role="Programmer", phase="code_fix", summary="Remove the board", trailers={})
    assert sha and ws.history()[-1].files == ["game/board.py"]


# ----------------------------------------------------------------------------- record


def test_checkpoint_load_state_record_and_transcript(ws: Workspace) -> None:
    ws.checkpoint({"position": 2, "path": Path("a/b"), "roles": ("CEO",)})
    assert ws.load_state() == {"position": 2, "path": "a/b", "roles": ["CEO"]}
    ws.record(Message(phase="coding", sender="CTO", receiver="Programmer", text="héllo", prompt_tokens=3))
    ws.record(Token(phase="coding", sender="CTO", text="h"))
    ws.record(PhaseEnded(phase="coding", status="done", duration=1.0, verdict={"approved": True}))
    with open(ws.root / TRANSCRIPT, "a") as fh:
        fh.write('{"kind": "message", "tor')  # a line torn by a kill
    events = ws.transcript()
    assert [e["kind"] for e in events] == ["message", "phase_ended"]
    assert events[0]["text"] == "héllo" and events[1]["verdict"] == {"approved": True}


def test_save_company_keeps_a_copy_that_is_committed(ws: Workspace) -> None:
    ws.save_company({"company.yaml": "name: Acme\n", "roles/cto.yaml": "name: CTO\n"})
    ws.save_company({"company.yaml": "name: Acme 2\n", "phases/coding.yaml": "name: coding\n"})
    company = ws.root / ".chatdev/company"
    assert sorted(str(p.relative_to(company)) for p in company.rglob("*.yaml")) == [
        "company.yaml", "phases/coding.yaml"]
    sha = built(ws)
    assert git(ws.root, "show", f"{sha}:.chatdev/company/company.yaml") == "name: Acme 2\n"
    with pytest.raises(WorkspaceError):
        ws.save_company({"../escape.yaml": "x"})


# ----------------------------------------------------------------------------- open: refusals


def test_open_a_project(ws: Workspace) -> None:
    built(ws)
    again = Workspace.open(ws.root)
    assert again.root == ws.root and again.company_name == "Acme Soft"
    assert again.load_state() == {"position": 1}


@pytest.mark.parametrize("case, message", [
    ("missing", "no such folder"),
    ("file", "not a folder"),
    ("no_chatdev", "not a chatdev project"),
    ("no_state", "no .chatdev/state.json"),
    ("corrupted", "corrupted"),
    ("not_object", "expected a JSON object"),
    ("binary", "cannot read"),
    ("unreadable", "cannot read"),
    ("no_git", "not a git repository"),
])
def test_open_refuses_what_is_not_a_usable_project(ws: Workspace, tmp_path: Path, case: str, message: str) -> None:
    built(ws)
    target = ws.root
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "file":
        target = ws.root / "main.py"
    elif case == "no_chatdev":
        target = tmp_path / "plain"
        target.mkdir()
        git(target, "init", "-q")
    elif case == "no_state":
        (ws.root / STATE).unlink()
    elif case == "corrupted":
        (ws.root / STATE).write_text('{"position": 1,')
    elif case == "not_object":
        (ws.root / STATE).write_text("[1, 2]")
    elif case == "binary":
        (ws.root / STATE).write_bytes(b"\xff\xfe\x00garbage")
    elif case == "unreadable":
        (ws.root / STATE).unlink()
        (ws.root / STATE).mkdir()
    elif case == "no_git":
        subprocess.run(["mv", str(ws.root / ".git"), str(tmp_path / "moved.git")], check=True)
    before = snapshot(target) if target.is_dir() else None
    with pytest.raises(WorkspaceError, match=message) as err:
        Workspace.open(target)
    assert err.value.exit_code == 2 and "\n" not in err.value.line()
    if before is not None:
        assert snapshot(target) == before


def test_open_refuses_unrelated_history(tmp_path: Path, ws: Workspace) -> None:
    built(ws)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    (other / "app.py").write_text("print('mine')\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "my own work")
    (other / ".chatdev").mkdir()
    (other / STATE).write_bytes((ws.root / STATE).read_bytes())
    before = snapshot(other)
    with pytest.raises(WorkspaceError, match="unrelated history") as err:
        Workspace.open(other)
    assert err.value.exit_code == 2
    assert snapshot(other) == before


@pytest.mark.parametrize("change", ["modify", "untracked", "staged", "delete"])
def test_open_for_write_refuses_the_users_uncommitted_changes(ws: Workspace, change: str) -> None:
    built(ws)
    root = ws.root
    if change == "modify":
        (root / "main.py").write_text("print('my edit')\n")
    elif change == "untracked":
        (root / "notes.py").write_text("mine\n")
    elif change == "staged":
        (root / "notes.py").write_text("mine\n")
        git(root, "add", "notes.py")
    elif change == "delete":
        (root / "main.py").unlink()
    before = snapshot(root)
    with pytest.raises(WorkspaceError, match="changes chatdev did not make") as err:
        Workspace.open(root)
    assert err.value.exit_code == 2
    assert snapshot(root) == before
    assert Workspace.open(root, for_write=False).root == root  # readers may look


def test_the_companys_own_uncommitted_writes_are_not_the_users(ws: Workspace) -> None:
    built(ws)
    ws.write({"main.py": "print('half done')\n", "new.py": "x\n"})
    ws.delete(["game/board.py"])
    reopened = Workspace.open(ws.root)  # no refusal: chatdev wrote these
    assert reopened.pending() == ["game/board.py", "main.py", "new.py"]
    (ws.root / "new.py").write_text("the user touched it\n")
    with pytest.raises(WorkspaceError, match=r"new\.py"):
        Workspace.open(ws.root)


# ----------------------------------------------------------------------------- crash recovery


def test_reset_to_head_discards_the_companys_writes_and_rewinds_state(ws: Workspace) -> None:
    sha = built(ws)
    committed = snapshot(ws.root)
    ws.checkpoint({"position": 2, "verdicts": {"approved": False}})  # a no-change phase, uncommitted
    ws.record(PhaseStarted(phase="code_fix", phase_kind="chat", roles=["CTO", "Programmer"]))
    ws.write({"main.py": "print('fixed')\n", "game/new.py": "n\n"})
    ws.delete(["game/board.py"])
    ws.checkpoint({"position": 3})  # the phase's state, written just before a commit that never came
    transcript = (ws.root / TRANSCRIPT).read_text()
    # a crash mid-commit leaves git's lock behind
    (Path(ws.root) / ".git" / "index.lock").write_text("")

    resumed = Workspace.open(ws.root)
    restored = resumed.reset_to_head()
    assert restored == ["game/board.py", "game/new.py", "main.py"]
    assert resumed.head() == sha and not resumed.is_dirty() and resumed.pending() == []
    assert resumed.load_state() == {"position": 2, "verdicts": {"approved": False}}
    assert (ws.root / TRANSCRIPT).read_text() == transcript  # the record is append-only
    after = snapshot(ws.root)
    assert {k: v for k, v in after["files"].items() if not k.startswith(".chatdev")} == {
        k: v for k, v in committed["files"].items() if not k.startswith(".chatdev")}
    assert not (ws.root / ".git" / "index.lock").exists()


def test_reset_to_head_never_touches_the_users_files(ws: Workspace) -> None:
    built(ws)
    ws.write({"main.py": "print('company')\n"})
    (ws.root / "mine.txt").write_text("user's\n")
    ws.reset_to_head()
    assert (ws.root / "mine.txt").read_text() == "user's\n"
    assert (ws.root / "main.py").read_text() == "print('snake')\n"


KILLED_CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from chatdev.project.workspace import Workspace
    ws = Workspace.open(Path(sys.argv[1]))
    ws.checkpoint({"position": 2})
    ws.write({"main.py": "print('phase 2, half written')\\n", "extra.py": "e = 1\\n"})
    ws.checkpoint({"position": 3})
    print("written", flush=True)
    time.sleep(60)
""")


def test_a_process_killed_mid_phase_leaves_a_resumable_project(ws: Workspace) -> None:
    sha = built(ws)
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(ws.root)], stdout=subprocess.PIPE,
                             text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    resumed = Workspace.open(ws.root)
    assert resumed.reset_to_head() == ["extra.py", "main.py"]
    assert resumed.head() == sha and not resumed.is_dirty()
    assert resumed.load_state() == {"position": 2}
    resumed.write({"main.py": "print('phase 2')\n"})
    resumed.checkpoint({"position": 3})
    assert resumed.commit(role="Programmer", phase="code_fix", summary="Phase 2", trailers={})


# ----------------------------------------------------------------------------- adopt (improve on any repo)


def users_repo(tmp_path: Path) -> Path:
    root = tmp_path / "their_app"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('v0')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial work")
    return root


def test_adopt_an_existing_repository(tmp_path: Path) -> None:
    root = users_repo(tmp_path)
    ws = Workspace.adopt(root, company_name="Acme")
    assert (root / ".chatdev").is_dir() and not ws.is_dirty()
    ws.checkpoint({"mode": "improve"})
    assert Workspace.open(root).root == root  # adopted, no chatdev commit yet: still ours
    ws.write({"app.py": "print('v1')\n"})
    sha = ws.commit(role="Programmer", phase="coding", summary="Add v1", trailers={})
    subjects = [c.subject for c in ws.history()]
    assert subjects == ["initial work", "[coding] Add v1"]
    assert ws.history()[0].author_name == "Ada User" and not ws.history()[0].by_chatdev
    assert git(root, "log", "-1", "--format=%ae").strip() == "programmer@acme.chatdev"
    assert Workspace.open(root).head() == sha
    assert Workspace.adopt(root).head() == sha  # already a chatdev project: just opened


@pytest.mark.parametrize("change", ["modify", "untracked"])
def test_adopt_refuses_a_dirty_tree(tmp_path: Path, change: str) -> None:
    root = users_repo(tmp_path)
    if change == "modify":
        (root / "app.py").write_text("print('wip')\n")
    else:
        (root / "wip.py").write_text("x\n")
    before = snapshot(root)
    with pytest.raises(WorkspaceError, match="uncommitted changes"):
        Workspace.adopt(root)
    assert snapshot(root) == before


def test_adopt_refuses_a_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a git repository"):
        Workspace.adopt(tmp_path)
    sub = users_repo(tmp_path) / "sub"
    sub.mkdir()
    (sub / ".git").mkdir()  # a broken nested repository
    with pytest.raises(WorkspaceError):
        Workspace.adopt(sub)


def test_environment_error_class_is_exit_3() -> None:
    assert WorkspaceEnvironmentError("x").exit_code == 3


def test_missing_gitpython_is_a_clear_environment_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "git", None)  # `import git` now raises ImportError
    with pytest.raises(WorkspaceEnvironmentError, match="git is not usable") as err:
        Workspace.create(tmp_path / "p", company_name="X")
    assert "pip install gitpython" in err.value.line()
    assert not (tmp_path / "p").exists()


def test_create_makes_missing_parents_and_removes_them_on_failure(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert Workspace.create(tmp_path / "a" / "b" / "p", company_name="X").head()
    monkeypatch.setattr("chatdev.company.config.defaults_dir", lambda: tmp_path / "no-defaults")
    with pytest.raises(WorkspaceError):
        Workspace.create(tmp_path / "c" / "d" / "p", company_name="X")
    assert not (tmp_path / "c").exists()


def test_claim_changes_makes_files_the_program_wrote_the_companys(ws: Workspace) -> None:
    built(ws)
    (ws.root / "highscore.json").write_text("[10]\n")  # written by the program in the sandbox
    with pytest.raises(WorkspaceError, match="highscore"):
        Workspace.open(ws.root)
    assert ws.claim_changes() == ["highscore.json"]
    Workspace.open(ws.root).reset_to_head()
    assert not (ws.root / "highscore.json").exists()


def test_adopt_a_repository_with_no_commits_yet(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    ws = Workspace.adopt(root, company_name="Acme")
    assert ws.head() is None and ws.history() == [] and ws.next_version_tag() == "v1"
    ws.checkpoint({"position": 0})
    ws.write({"app.py": "print(1)\n"})
    assert Workspace.open(root).pending() == ["app.py"]
    assert ws.reset_to_head() == ["app.py"] and not (root / "app.py").exists()
    ws.write({"app.py": "print(2)\n"})
    sha = ws.commit(role="Programmer", phase="coding", summary="First", trailers={})
    assert sha and [c.subject for c in ws.history()] == ["[coding] First"]


def test_reset_to_head_clears_a_stale_git_lock(ws: Workspace) -> None:
    built(ws)
    lock = ws.root / ".git" / "index.lock"
    lock.write_text("")
    os.utime(lock, (1, 1))  # long ago: no git command is running
    Workspace.open(ws.root).reset_to_head()
    assert not lock.exists()
    ws.write({"main.py": "print('after the crash')\n"})
    assert ws.commit(role="Programmer", phase="code_fix", summary="Carry on", trailers={})


def test_reset_to_head_leaves_a_file_the_user_edited_after_the_company(ws: Workspace) -> None:
    built(ws)
    ws.write({"main.py": "print('company')\n", "other.py": "o\n"})
    (ws.root / "main.py").write_text("print('the user fixed it')\n")
    assert ws.reset_to_head() == ["other.py"]
    assert (ws.root / "main.py").read_text() == "print('the user fixed it')\n"
    assert not (ws.root / "other.py").exists()
