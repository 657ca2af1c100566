"""Bad input through the real command line: refused with one line, the right exit code, nothing left.

Every case runs `python -m chatdev ...` in a subprocess, in an empty folder, with an empty model
cache (``CHATDEV_CACHE``), and checks: the exit code (2 bad input, 3 environment), exactly one
line on stderr that says what to do next (typer's own Usage/Try/Error block for usage errors),
no traceback, no project folder, nothing in the cache, and the repository unchanged.

Nothing here generates with a model: a bad model is refused before anything big is loaded, and
the endpoints are loopback servers of this file that stop by themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
TASK = "a snake game"


# ----------------------------------------------------------------------------- running one case


@dataclass
class Sandbox:
    """The folders one case runs in: an empty work folder (the default --out) and model cache."""

    root: Path
    work: Path = field(init=False)
    cache: Path = field(init=False)

    def __post_init__(self) -> None:
        self.work = self.root / "work"
        self.cache = self.root / "cache"
        self.work.mkdir()
        self.cache.mkdir()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATDEV_", "HF_"))}
        env.update({"CHATDEV_CACHE": str(self.cache), "HF_HUB_OFFLINE": "1", "CHATDEV_OFFLINE": "1",
                    "PYTHONUNBUFFERED": "1", "COLUMNS": "120", "NO_COLOR": "1", "PYTHONPATH": str(REPO)})
        env.update(extra or {})
        return env

    def chatdev(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60,
                argv: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        command = argv or [PY, "-m", "chatdev", *args]
        return subprocess.run(command, cwd=self.work, env=self.env(env), text=True, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def _repo_snapshot() -> tuple[set[str], str]:
    """The repository's top-level entries and the git status of the shipped company (what chatdev
    could write to). Narrow on purpose: other people may be editing the rest of the tree meanwhile."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "company.yaml",
                             "messages.yaml", "roles", "phases", "workspace_templates", "chatdev/defaults"],
                            cwd=REPO, capture_output=True, text=True, check=False).stdout
    return {p.name for p in REPO.iterdir()}, status


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    before = _repo_snapshot()
    sandbox = Sandbox(tmp_path)
    yield sandbox
    after = _repo_snapshot()
    assert after[0] <= before[0], f"new in the repository: {sorted(after[0] - before[0])}"
    assert after[1] == before[1], f"the shipped company changed:\n{after[1]}"


def refused(result: subprocess.CompletedProcess[str], code: int, box: Sandbox, *, says: str = "",
            work: list[str] | None = None) -> str:
    """The one stderr line of a refusal; asserts the exit code and that nothing was left behind."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert result.returncode == code, (result.returncode, line)
    assert line.startswith("chatdev: error: "), line
    assert line.endswith(")") and " (" in line, f"the line does not say what to do next: {line}"
    assert len(line) < 600, line
    assert says.lower() in line.lower(), line
    assert _files(box.work) == (work or []), f"left behind in --out: {_files(box.work)}"
    assert _files(box.cache) == [], f"left behind in the model cache: {_files(box.cache)}"
    return line


def usage_error(result: subprocess.CompletedProcess[str], says: str = "") -> None:
    """typer's own block: 'Usage: ...', 'Try ...', 'Error: ...' and exit 2."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("Usage: "), result.stderr
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    assert len(errors) == 1 and says.lower() in errors[0].lower(), result.stderr
    assert all(ln.startswith(("Usage: ", "Try ", "Error: ")) for ln in lines), result.stderr


# ----------------------------------------------------------------------------- bad files


def junk_gguf(box: Sandbox) -> Path:
    path = box.root / "junk.gguf"
    path.write_bytes(b"\xde\xad\xbe\xef" * 4096)
    return path


def truncated_gguf(box: Sandbox) -> Path:
    path = box.root / "truncated.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00\x01")
    return path


def company(box: Sandbox, edit: Callable[[Path], None]) -> Path:
    from chatdev.company.scaffold import init_company

    folder = box.root / "company"
    init_company(folder)
    edit(folder)
    return folder


def replace(path: Path, old: str, new: str, count: int = -1) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count))


CONFIG_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "broken_yaml": (lambda d: (d / "company.yaml").write_text("name: ChatDev\nroles: [ceo, cto\n"),
                    "YAML syntax error"),
    "unknown_key": (lambda d: replace(d / "company.yaml", "name: ChatDev", "name: ChatDev\ncolour: blue"),
                    "unknown key"),
    "unknown_role": (lambda d: replace(d / "company.yaml", "roles: [ceo,", "roles: [cfo, ceo,"), "unknown role 'cfo'"),
    "unknown_phase": (lambda d: replace(d / "company.yaml", "  - design\n", "  - desing\n", 1), "unknown phase"),
    "python_tag": (lambda d: (d / "company.yaml").write_text(
        "name: !!python/object/apply:os.system ['touch PWNED']\nroles: [ceo]\nchain: [design]\n"),
        "YAML syntax error"),
    "misspelled_verdict": (lambda d: (replace(d / "phases" / "code_review.yaml", "verdict: approved", "verdict: aproved"),
                                      replace(d / "company.yaml", "until: approved", "until: aproved")),
                           "'aproved' is not a boolean field of the schema"),
    "misspelled_until": (lambda d: replace(d / "company.yaml", "until: approved", "until: aproved", 1),
                         "no phase in the loop sets verdict 'aproved'"),
    "prompt_instructor": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}", "{{ instructor }}", 1),
                          "undefined variable 'instructor'"),
    "prompt_assistant": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}", "{{ assistant }}", 1),
                         "undefined variable 'assistant'"),
    "prompt_attribute_typo": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}", "{{ company.nmae }}", 1),
                              "'company' has no attribute 'nmae'"),
    "prompt_output_typo": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}", "{{ outputs.desing }}", 1),
                           "'outputs' has no attribute 'desing'"),
    "prompt_private_attribute": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}",
                                                   "{{ outputs.__class__ }}", 1), "private attributes"),
    "persona_attribute_typo": (lambda d: replace(d / "roles" / "cto.yaml", "persona: |", "persona: |\n  {{ role.nmae }}"),
                               "'role' has no attribute 'nmae'"),
    "document_field_typo": (lambda d: replace(d / "phases" / "design.yaml", "{{ output.summary }}",
                                              "{{ output.sumary }}"), "'output' has no attribute 'sumary'"),
    "template_syntax": (lambda d: replace(d / "phases" / "coding.yaml", "{{ task }}", "{{ task ", 1),
                        "template syntax error"),
    "oversized_file": (lambda d: (d / "company.yaml").write_text(
        (d / "company.yaml").read_text() + ("# padding padding padding padding padding padding\n" * 200_000)),
        "the limit is"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_a_bad_company_fails_check(box: Sandbox, case: str) -> None:
    edit, says = CONFIG_CASES[case]
    folder = company(box, edit)
    started = time.monotonic()
    refused(box.chatdev("check", str(folder)), 2, box, says=says)
    assert time.monotonic() - started < 20  # a 10 MB file is refused before it is parsed
    assert not (box.work / "PWNED").exists()


@pytest.mark.parametrize("case", ["misspelled_verdict", "prompt_instructor", "prompt_attribute_typo",
                                  "oversized_file", "python_tag"])
def test_a_bad_company_fails_build_before_any_folder(box: Sandbox, case: str) -> None:
    edit, says = CONFIG_CASES[case]
    folder = company(box, edit)
    refused(box.chatdev("build", TASK, "--company", str(folder), "--model", str(junk_gguf(box)), "--no-run"),
            2, box, says=says)


def test_the_shipped_company_passes_check(box: Sandbox) -> None:
    result = box.chatdev("check")
    assert result.returncode == 0 and result.stdout.startswith("ok: "), result.stderr


def test_prompt_variables_are_what_the_build_passes() -> None:
    """prompts.PROMPT_VARS is exactly the set phases.template_context gives a prompt."""
    from types import SimpleNamespace

    from chatdev.company import prompts
    from chatdev.company.config import load_company
    from chatdev.run import phases
    from chatdev.run.context import RunState

    company_ = load_company(None)
    ctx = SimpleNamespace(company=company_, state=RunState(task="t", project="p", company="c", models={}),
                          workspace=SimpleNamespace(files=lambda: []), images=[])
    given = phases.template_context(ctx, cycle=0)  # type: ignore[arg-type]
    assert set(given) == prompts.PROMPT_VARS
    assert set(given["company"]) == prompts.PROMPT_ATTRS["company"]


# ----------------------------------------------------------------------------- models and images


def test_a_missing_model_file(box: Sandbox) -> None:
    refused(box.chatdev("build", TASK, "--model", str(box.root / "nothere.gguf"), "--no-run"), 2, box,
            says="no such model file")


@pytest.mark.parametrize("make", [junk_gguf, truncated_gguf], ids=["corrupt", "truncated"])
def test_a_corrupt_model_file(box: Sandbox, make: Callable[[Sandbox], Path]) -> None:
    started = time.monotonic()
    refused(box.chatdev("build", TASK, "--model", str(make(box)), "--no-run"), 2, box, says="GGUF")
    assert time.monotonic() - started < 20


def test_an_unknown_model_name(box: Sandbox) -> None:
    refused(box.chatdev("build", TASK, "--model", "gpt-17", "--no-run"), 2, box, says="unknown model")


def test_models_info_on_a_corrupt_file(box: Sandbox) -> None:
    refused(box.chatdev("models", "info", str(junk_gguf(box))), 2, box, says="not a GGUF")


def test_a_pull_with_no_network_leaves_no_folder_and_no_lock(box: Sandbox) -> None:
    with closed_port() as port:
        env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}"}
        refused(box.chatdev("models", "pull", "llava-1.5-7b", env=env), 3, box, says="cannot reach")
        refused(box.chatdev("build", TASK, "--model", "hf://someone/repo/model.gguf", "--no-run", env=env), 3, box,
                says="cannot reach")


def png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    return path


@pytest.mark.parametrize("name,data,says", [
    ("missing.png", None, "image not found"),
    ("mockup.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 16, "WebP is not supported"),
    ("notes.png", b"just some text\n", "not an image"),
])
def test_a_bad_image(box: Sandbox, name: str, data: bytes | None, says: str) -> None:
    path = box.root / name
    if data is not None:
        path.write_bytes(data)
    refused(box.chatdev("build", TASK, "--image", str(path), "--model", str(box.root / "m.gguf"), "--no-run"),
            2, box, says=says)


# ----------------------------------------------------------------------------- endpoints (loopback only)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


@contextlib.contextmanager
def html_server() -> Iterator[int]:
    """A loopback HTTP server answering every GET with 200 and a web page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            body = b"<!doctype html>\n<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server(lifetime: float = 60.0) -> Iterator[int]:
    """A loopback server that accepts connections and never answers (it stops after ``lifetime`` s)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()
    deadline = time.monotonic() + lifetime

    def accept() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


def test_an_endpoint_on_a_closed_port(box: Sandbox) -> None:
    with closed_port() as port:
        started = time.monotonic()
        refused(box.chatdev("build", TASK, "--endpoint", f"http://127.0.0.1:{port}/v1", "--no-run"), 3, box,
                says="unreachable")
    assert time.monotonic() - started < 20


def test_an_endpoint_that_serves_a_web_page(box: Sandbox) -> None:
    with html_server() as port:
        line = refused(box.chatdev("build", TASK, "--endpoint", f"http://127.0.0.1:{port}/v1", "--no-run"), 2, box,
                       says="not JSON")
    assert "an HTML page ('Welcome to nginx!')" in line


def test_an_endpoint_that_never_answers_is_given_up_on_in_seconds(box: Sandbox) -> None:
    with silent_server() as port:
        started = time.monotonic()
        result = box.chatdev("build", TASK, "--endpoint", f"http://127.0.0.1:{port}/v1", "--no-run", timeout=30)
        took = time.monotonic() - started
    refused(result, 3, box, says="did not answer within")
    assert took < 15, took
    assert "which models it serves" in result.stdout  # it says what it waits for


# ----------------------------------------------------------------------------- task, --out, --name


@pytest.mark.parametrize("task,says", [("", "the task is empty"), ("   \n ", "the task is empty"),
                                       ("x" * 5000, "the limit is")], ids=["empty", "blank", "too_long"])
def test_a_bad_task(box: Sandbox, task: str, says: str) -> None:
    refused(box.chatdev("build", task, "--no-run"), 2, box, says=says)


def test_out_is_a_file(box: Sandbox) -> None:
    target = box.work / "afile"
    target.write_text("mine\n")
    refused(box.chatdev("build", TASK, "--out", str(target), "--model", str(junk_gguf(box)), "--no-run"), 2, box,
            says="--out is not a folder", work=["afile"])
    assert target.read_text() == "mine\n"


def test_the_project_folder_exists(box: Sandbox) -> None:
    (box.work / "snake_game").mkdir()
    (box.work / "snake_game" / "keep.txt").write_text("mine\n")
    refused(box.chatdev("build", TASK, "--model", str(junk_gguf(box)), "--no-run"), 2, box,
            says="folder exists and is not empty", work=["snake_game", "snake_game/keep.txt"])


def test_the_project_folder_is_a_link_out_of_out(box: Sandbox) -> None:
    elsewhere = box.root / "elsewhere"
    elsewhere.mkdir()
    (box.work / "snake_game").symlink_to(elsewhere)
    refused(box.chatdev("build", TASK, "--model", str(junk_gguf(box)), "--no-run"), 2, box,
            says="symbolic link", work=["snake_game"])
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["../../escape", "/tmp/escape", "..", "a/../../b"])
def test_a_name_cannot_leave_out(box: Sandbox, name: str) -> None:
    """--name is made a slug inside --out; the missing model then stops the build before any folder."""
    refused(box.chatdev("build", TASK, "--name", name, "--model", str(box.root / "m.gguf"), "--no-run"), 2, box,
            says="no such model file")
    assert sorted(p.name for p in box.root.iterdir()) == ["cache", "work"]


# ----------------------------------------------------------------------------- resume and improve


def project(box: Sandbox, state: object | str) -> Path:
    """A chatdev project whose .chatdev/state.json holds ``state`` (JSON, or raw text)."""
    from chatdev.project.workspace import Workspace

    root = box.root / "proj"
    ws = Workspace.create(root, company_name="ChatDev")
    ws.checkpoint({"task": TASK, "project": "proj", "company": "ChatDev", "models": {}})
    text = state if isinstance(state, str) else json.dumps(state)
    (root / ".chatdev" / "state.json").write_text(text)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts}


WRONG_STATES = {
    "completed_is_a_number": ({"task": TASK, "project": "proj", "company": "ChatDev", "models": {}, "completed": 5},
                              "completed: expected a list"),
    "models_missing": ({"task": TASK, "project": "proj", "company": "ChatDev"}, "models: missing"),
    "verdicts_not_booleans": ({"task": TASK, "project": "proj", "company": "ChatDev", "models": {},
                               "verdicts": {"approved": "yes"}}, "verdicts: approved"),
    "a_list": ([1, 2, 3], "expected a JSON object"),
    "truncated": ('{"task": "a sna', "corrupted"),
}


@pytest.mark.parametrize("command", ["resume", "improve"])
@pytest.mark.parametrize("case", sorted(WRONG_STATES))
def test_a_state_file_of_the_wrong_shape(box: Sandbox, command: str, case: str) -> None:
    state, says = WRONG_STATES[case]
    root = project(box, state)
    before = tree(root)
    args = ["resume", str(root)] if command == "resume" else ["improve", str(root), "add a pause key", "--no-run"]
    refused(box.chatdev(*args), 2, box, says=says)
    assert tree(root) == before


@pytest.mark.parametrize("args,says", [
    (["resume", "{root}/nothere"], "no such folder"),
    (["resume", "{root}"], "not a chatdev project"),
    (["improve", "{root}", "add a pause key", "--no-run"], "not a git repository"),
    (["improve", "{root}/nothere", "add a pause key", "--no-run"], "no such"),
    (["log", "{root}"], "not a chatdev project"),
], ids=["resume_missing", "resume_not_a_project", "improve_not_a_repo", "improve_missing", "log_not_a_project"])
def test_not_a_project(box: Sandbox, args: list[str], says: str) -> None:
    folder = box.root / "plain"
    folder.mkdir()
    refused(box.chatdev(*[a.format(root=folder) for a in args]), 2, box, says=says)
    assert list(folder.iterdir()) == []


def test_improve_with_an_empty_change(box: Sandbox) -> None:
    root = project(box, {"task": TASK, "project": "proj", "company": "ChatDev", "models": {}})
    refused(box.chatdev("improve", str(root), "  ", "--no-run"), 2, box, says="empty")


# ----------------------------------------------------------------------------- a person in the company (issue 15)


def test_human_with_an_unknown_role(box: Sandbox) -> None:
    line = refused(box.chatdev("build", TASK, "--human", "Janitor", "--no-run"), 2, box, says="--human Janitor")
    assert "known roles: CEO, CTO, Programmer, Tester, Documenter" in line


@pytest.mark.parametrize("args, env, says", [
    (["--review"], {"CI": ""}, "no terminal"),  # CI runs this suite with CI set; an empty CI is not set
    (["--review", "--json"], {"CI": ""}, "--json is on"),
    (["--human", "cto", "--quiet"], {"CI": ""}, "--quiet is on"),
    (["--clarify"], {"CI": "true"}, "CI is set"),
], ids=["no_tty", "json", "quiet", "ci"])
def test_a_human_turn_without_a_terminal_fails_at_once(box: Sandbox, args: list[str], env: dict[str, str],
                                                       says: str) -> None:
    started = time.monotonic()
    line = refused(box.chatdev("build", TASK, *args, "--no-run", env=env), 2, box, says=says)
    assert "needs a person at a terminal" in line and "--answers FILE" in line
    assert time.monotonic() - started < 30  # never waits for input


@pytest.mark.parametrize("text, says", [
    (None, "no such file"),
    ("approve_design: [approve\n", "not YAML"),
    ("approve_demand_analysis: approve\n", "no answer for phase 'approve_design'"),
], ids=["missing", "not_yaml", "lacks_a_phase"])
def test_a_bad_answers_file(box: Sandbox, text: str | None, says: str) -> None:
    path = box.root / "answers.yaml"
    if text is not None:
        path.write_text(text)
    refused(box.chatdev("build", TASK, "--review", "--answers", str(path), "--no-run"), 2, box, says=says)


# ----------------------------------------------------------------------------- Docker unreachable

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def test_build_without_docker(box: Sandbox) -> None:
    refused(box.chatdev("build", TASK, "--model", str(junk_gguf(box)), env=NO_DOCKER), 3, box,
            says="not reachable at unix:///nonexistent.sock")


def test_run_without_docker(box: Sandbox) -> None:
    folder = box.root / "prog"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    refused(box.chatdev("run", str(folder), env=NO_DOCKER), 3, box, says="not reachable")


def test_sandbox_check_without_docker_does_not_call_the_image_missing(box: Sandbox) -> None:
    result = box.chatdev("sandbox", "check", env=NO_DOCKER)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "unreachable" in result.stdout and "missing" not in result.stdout, result.stdout


# ----------------------------------------------------------------------------- chatdev run


def test_run_a_folder_without_python(box: Sandbox) -> None:
    folder = box.root / "docs"
    folder.mkdir()
    (folder / "README.md").write_text("# nothing to run\n")
    refused(box.chatdev("run", str(folder)), 2, box, says="no Python file")


def test_run_a_missing_folder(box: Sandbox) -> None:
    refused(box.chatdev("run", str(box.root / "nothere")), 2, box, says="no such project folder")


@pytest.mark.parametrize("value", ["nan", "-5", "0", "inf", "1e9"])
def test_run_timeout_out_of_range(box: Sandbox, value: str) -> None:
    refused(box.chatdev("run", str(box.root), f"--timeout={value}"), 2, box, says="--timeout")


# ----------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args,says", [
    (["build"], "missing argument"),
    (["frob"], "no such command"),
    (["--bogus"], "no such option"),
    (["build", "x", "--bogus"], "no such option"),
    (["build", "x", "--gpu-layers", "lots"], "--gpu-layers"),
    (["build", "x", "--seed", "one"], "--seed"),
    (["run", ".", "--timeout", "abc"], "--timeout"),
    (["improve", "."], "missing argument"),
    (["models", "pull"], "missing argument"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_a_usage_error(box: Sandbox, args: list[str], says: str) -> None:
    usage_error(box.chatdev(*args), says)
    assert _files(box.work) == []


def test_a_usage_error_when_the_click_package_is_not_installed(box: Sandbox) -> None:
    """typer 0.29 vendors click; the CLI must not need the `click` package."""
    code = ("import sys; sys.modules['click'] = None; sys.argv = ['chatdev', 'build', 'x', '--gpu-layers', 'lots']; "
            "from chatdev.cli import main; main()")
    usage_error(box.chatdev(argv=[PY, "-c", code]), "--gpu-layers")


# ----------------------------------------------------------------------------- a pull that is stopped


def _carrier_installed() -> bool:
    from chatdev.models import registry

    spec = registry.CATALOGUE["qwen2.5-coder-0.5b"]
    return spec.carrier is not None and spec.carrier.part_paths() is not None


@pytest.mark.parametrize("sig,code,says", [(signal.SIGTERM, 143, "chatdev: error: stopped by SIGTERM"),
                                           (signal.SIGINT, 130, "chatdev: interrupted")], ids=["sigterm", "sigint"])
def test_a_stopped_pull_leaves_nothing_in_the_cache(box: Sandbox, sig: int, code: int, says: str) -> None:
    if not _carrier_installed():
        pytest.skip("the 0.5B carrier packages (dev extra) are not installed")
    proc = subprocess.Popen([PY, "-m", "chatdev", "models", "pull", "qwen2.5-coder-0.5b"], cwd=box.work,
                            env=box.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not list(box.cache.rglob("*.assembling")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the pull ended before it could be stopped"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err and [ln for ln in err.splitlines() if ln.strip()] == [err.strip()], err
    assert err.startswith(says), err
    assert _files(box.cache) == []


def test_the_next_pull_sweeps_what_dead_writers_left(tmp_path: Path) -> None:
    """After a SIGKILL: the killed writer's .assembling file and lock go at the next assembly."""
    from chatdev.models import fetch

    parts = []
    for i, data in enumerate([b"abc" * 1000, b"defg" * 1000]):
        parts.append(tmp_path / f"part{i}.bin")
        parts[-1].write_bytes(data)
    sha = hashlib.sha256(b"abc" * 1000 + b"defg" * 1000).hexdigest()
    folder = tmp_path / "cache" / "model"
    folder.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (folder / f"model.gguf.{dead.pid}.assembling").write_bytes(b"half")
    (folder / f"model.gguf.{os.getpid()}.assembling").write_bytes(b"half")  # ours, but we hold the lock now
    (folder / f"other.gguf.{dead.pid}.assembling").write_bytes(b"half")
    (folder / "model.gguf.lock").write_text(f"{dead.pid}\n")
    (folder / "other.gguf.lock").write_text(f"{dead.pid}\n")
    (folder / "model.gguf.part").write_bytes(b"resumable")  # a download's .part is kept: it resumes
    fetch.assemble(parts, folder / "model.gguf", sha256=sha)
    assert sorted(p.name for p in folder.iterdir()) == ["model.gguf", "model.gguf.part", "model.gguf.sha256"]


def test_a_lock_is_not_taken_twice(tmp_path: Path) -> None:
    """The lock file is removed on release without letting two writers in (the inode is checked)."""
    from chatdev.models import fetch

    dest = tmp_path / "m" / "model.gguf"
    inside: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(50):
                with fetch._locked(dest):
                    inside.append(1)
                    assert len(inside) == 1
                    inside.pop()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert not (tmp_path / "m").exists() or list((tmp_path / "m").iterdir()) == []  # no lock file is left


def test_an_unexpected_error_is_one_line_not_a_traceback(box: Sandbox) -> None:
    code = ("import sys, chatdev.company.config as c; c.load_company = lambda *a: 1 / 0; sys.argv = ['chatdev', 'check']; "
            "from chatdev.cli import main; main()")
    result = box.chatdev(argv=[PY, "-c", code])
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("chatdev: internal error: ZeroDivisionError") and result.stderr.count("\n") == 1
    assert "CHATDEV_DEBUG=1" in result.stderr
    debug = box.chatdev(argv=[PY, "-c", code], env={"CHATDEV_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr
