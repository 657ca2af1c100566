"""The hardened Docker sandbox: generated code runs here, never on the host.

A run copies the project into a fresh container (``put_archive`` into a small
tmpfs volume: the host folder is never mounted), with no network, a read-only root
filesystem, a tmpfs ``/tmp``, uid 10001, every capability dropped,
no-new-privileges, memory/CPU/pids limits, an init that reaps, capped output and a
hard timeout. The container and its volume are removed whatever happens, Ctrl-C
included. Inside, ``chatdev/sandbox/runner/supervisor.py`` runs the steps and reports one JSON.

This is the only module that imports ``docker`` (lazily, with an install hint).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import json
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdev.checks import assets, entrypoint
from chatdev.errors import SandboxError, UsageError
from chatdev.events import EventSink, null_sink
from chatdev.sandbox import image as sandbox_image
from chatdev.sandbox.results import ProgramReport, RunResult, build_report, install_names, is_test_path
from chatdev.sandbox.reuse import RunMemo

__all__ = [
    "LABEL",
    "ProgramReport",
    "RunResult",
    "Sandbox",
    "SandboxStatus",
    "build_image",
    "check",
    "client",
    "install_requirements",
    "is_available",
    "preflight",
    "run_project",
    "run_scenarios",
    "verify_program",
]

LABEL = "org.chatdev.sandbox"
UID = 10001
AGENT = ["/usr/bin/python3", "-I", "/opt/chatdev/supervisor.py"]
SKIP = {".git", ".chatdev", "__pycache__", ".venv", "venv", "node_modules", ".pytest_cache", ".mypy_cache"}
MAX_PROJECT_BYTES = 64 * 1024 * 1024
TEST_TIMEOUT = 10  # seconds each test may take before it counts as hanging
EXTRA_REPO = "chatdev-runner-extra"
PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?"
                        r"(\s*(==|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!_-]+(\s*,\s*(==|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!_-]+)*)?$")


# ----------------------------------------------------------------------------- the engine


def _docker() -> Any:
    try:
        import docker
        import docker.errors
        import docker.types
    except ImportError as exc:
        raise SandboxError("the Docker SDK for Python is not installed",
                           hint="pip install docker (chatdev depends on it; reinstall chatdev)") from exc
    return docker


def client() -> Any:
    """A connected Docker client, or one ``SandboxError`` line saying what is wrong and what to do."""
    docker = _docker()
    import requests

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        engine = docker.from_env(timeout=60)
        engine.ping()
        return engine
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        raise SandboxError(f"permission denied on the Docker socket ({host})",
                           hint="add yourself to the docker group: sudo usermod -aG docker $USER, then log in again")
    if shutil.which("dockerd") is None and shutil.which("docker") is None:
        raise SandboxError("Docker is not installed",
                           hint="install Docker Engine (Debian: sudo apt-get install docker.io) and start it")
    raise SandboxError(f"the Docker daemon is not running or not reachable at {host}",
                       hint="start it: sudo systemctl start docker (or run scripts/ensure_docker.sh)")


def _request_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (requests.exceptions.RequestException,)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SandboxStatus:
    """What ``chatdev sandbox check`` reports."""

    ok: bool
    engine_reachable: bool
    engine_version: str | None
    api_version: str | None
    image: str
    image_present: bool
    image_current: bool
    hardened_run_ok: bool
    run_seconds: float | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Outcome:
    """What the host saw of one container: the supervisor's JSON (if any) and the container's end."""

    payload: dict[str, Any] | None
    status_code: int | None
    oom_killed: bool
    hard_timeout: bool
    duration: float
    log_tail: str


# ----------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Hardened containers on the runner image. ``run`` is the one primitive."""

    def __init__(self, *, image: str | None = None, memory: str = "512m", cpus: float = 1.0, pids: int = 128,
                 allow_network: bool = False, allow_install: bool = False, labels: Mapping[str, str] | None = None,
                 output_cap: int = 512 * 1024, tmpfs_size: str = "128m", pip_index_url: str | None = None,
                 grace: float = 20.0) -> None:
        self.image = image or sandbox_image.image_tag()
        self.memory = memory
        self.cpus = cpus
        self.pids = pids
        self.allow_network = allow_network
        self.allow_install = allow_install
        self.labels = dict(labels or {})
        self.output_cap = output_cap
        self.tmpfs_size = tmpfs_size
        self.pip_index_url = pip_index_url
        self.grace = grace  # seconds past the program's window before the host kills the container
        self._client: Any = None
        self._image_checked = False

    def with_image(self, image: str, *, allow_install: bool = False) -> Sandbox:
        """The same limits and labels on another image (one with installed packages)."""
        other = copy.copy(self)
        other.image, other.allow_install, other._image_checked = image, allow_install, False
        return other

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client()
        return self._client

    def ensure_image(self) -> None:
        if self._image_checked:
            return
        present, _current = sandbox_image.image_state(self.client, self.image)
        if not present:
            raise SandboxError(f"the runner image {self.image} is missing", hint=sandbox_image.BUILD_HINT)
        self._image_checked = True

    def run(self, project_dir: Path, command: str | list[str], *, timeout: float, gui: bool = False,
            tty: bool = False) -> RunResult:
        """Run ``command`` in a copy of ``project_dir`` (cwd); ``timeout`` seconds, then it is killed.

        ``gui``: under Xvfb, with a PNG screenshot. ``tty``: on an 80x24 pseudo-terminal (curses);
        stdout is then the final screen as text.
        """
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        spec = {"mode": "command", "argv": argv, "timeout": float(timeout), "gui": gui, "tty": tty}
        outcome = self._execute(Path(project_dir), spec, hard_timeout=timeout + self.grace + (10 if gui else 0))
        return _run_result((outcome.payload or {}).get("run"), outcome, self.memory)

    # The one place containers are made and removed.
    def _execute(self, project_dir: Path, spec: dict[str, Any], *, hard_timeout: float) -> _Outcome:
        if not project_dir.is_dir():
            raise UsageError(f"{project_dir}: no such project folder")
        docker = _docker()
        self.ensure_image()
        nonce = secrets.token_hex(16)
        archive = _project_tar(project_dir, {**spec, "nonce": nonce, "cap": self.output_cap})
        run_id = uuid.uuid4().hex[:12]
        labels = {**self.labels, LABEL: "1", f"{LABEL}.run": run_id}
        volume_name = f"chatdev-sandbox-{run_id}"
        engine = self.client
        container = None
        start = time.monotonic()
        try:
            try:
                engine.volumes.create(name=volume_name, driver="local", labels=labels, driver_opts={
                    "type": "tmpfs", "device": "tmpfs", "o": f"size={self.tmpfs_size},uid={UID},gid={UID},mode=0755"})
                container = engine.containers.create(**self._create_args(docker, volume_name, labels))
                container.start()
                if not container.put_archive("/work", archive):
                    raise SandboxError("could not copy the project into the sandbox")
                hard = False
                try:
                    status = container.wait(timeout=hard_timeout)
                except _request_errors():
                    hard = True
                    try:
                        container.kill()
                    except docker.errors.APIError:  # it ended on its own meanwhile
                        pass
                    status = container.wait(timeout=30)
                logs = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
                errs = container.logs(stdout=False, stderr=True, tail=20).decode("utf-8", "replace")
                container.reload()
                oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
            except docker.errors.APIError as exc:
                raise SandboxError(f"the Docker engine refused the sandbox run: {exc.explanation or exc}",
                                   hint="chatdev sandbox check") from exc
        finally:
            _remove(engine, container, run_id, volume_name)
        payload = _result_line(logs, nonce)
        return _Outcome(payload=payload, status_code=status.get("StatusCode"), oom_killed=oom, hard_timeout=hard,
                        duration=time.monotonic() - start, log_tail=errs[-2000:])

    def _create_args(self, docker: Any, volume: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "image": self.image, "command": AGENT, "user": f"{UID}:{UID}", "working_dir": "/work",
            "hostname": "sandbox", "environment": {}, "labels": labels, "detach": True, "init": True,
            "network_mode": "bridge" if self.allow_network else "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"},
            "mounts": [docker.types.Mount("/work", volume, type="volume")],
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "mem_limit": self.memory, "memswap_limit": self.memory, "nano_cpus": int(self.cpus * 1e9),
            "pids_limit": self.pids, "ipc_mode": "private", "shm_size": "64m",
            "ulimits": [docker.types.Ulimit(name="core", soft=0, hard=0),
                        docker.types.Ulimit(name="nofile", soft=1024, hard=1024)],
            "log_config": docker.types.LogConfig(type="json-file", config={"max-size": "32m", "max-file": "1"}),
        }


def _result_line(logs: str, nonce: str) -> dict[str, Any] | None:
    """The supervisor's one result line; none, or more than one (a forgery among them), is no result."""
    marker = f"@@chatdev-result {nonce}@@ "
    lines = [line for line in logs.splitlines() if marker in line]
    if len(lines) != 1 or logs.count(marker) != 1:
        return None
    try:
        payload = json.loads(lines[0].split(marker, 1)[1])
    except json.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _remove(engine: Any, container: Any, run_id: str, volume_name: str) -> None:
    """Remove the run's container(s) and volume; a second Ctrl-C does not stop the cleanup."""
    not_found = _docker().errors.NotFound
    for attempt in range(3):
        try:
            found = [container] if container is not None else engine.containers.list(
                all=True, filters={"label": f"{LABEL}.run={run_id}"})
            for item in found:
                try:
                    item.remove(force=True)
                except not_found:  # already gone
                    pass
            if volume_name:
                try:
                    engine.api.remove_volume(volume_name, force=True)
                except not_found:
                    pass
            return
        except KeyboardInterrupt:
            if attempt == 2:
                raise
        except Exception:  # noqa: BLE001 - removal in progress; try again
            time.sleep(0.2)


def _project_tar(project_dir: Path, spec: dict[str, Any]) -> bytes:
    """The project under ``app/`` (owned by the sandbox user), then the spec, then the ready marker."""
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = UID
            info.uname = info.gname = ""
            info.mode |= 0o600 if info.isfile() else 0o700
            return info

        root = tarfile.TarInfo("app")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(owned(root))
        for base, dirnames, filenames in _walk(project_dir):
            rel_dir = base.relative_to(project_dir)
            for d in dirnames:
                tar.add(base / d, arcname=str(Path("app") / rel_dir / d), recursive=False, filter=owned)
            for f in filenames:
                path = base / f
                if f.endswith((".pyc", ".pyo")):
                    continue
                total += path.lstat().st_size
                if total > MAX_PROJECT_BYTES:
                    raise UsageError(f"{project_dir}: more than {MAX_PROJECT_BYTES >> 20} MB to copy into the sandbox")
                tar.add(path, arcname=str(Path("app") / rel_dir / f), recursive=False, filter=owned)
        for name, data in ((".chatdev-spec.json", json.dumps(spec).encode()), (".chatdev-ready", b"")):
            info = owned(tarfile.TarInfo(name))
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _walk(project_dir: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """(folder, its subfolders, its files) of what goes into the sandbox: ``SKIP`` folders left out, sorted."""
    for dirpath, dirnames, filenames in os.walk(project_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
        yield Path(dirpath), dirnames, sorted(filenames)


def _run_result(data: dict[str, Any] | None, outcome: _Outcome, memory: str) -> RunResult:
    if data is None:
        if outcome.hard_timeout:
            why = "sandbox: stopped at the hard timeout; the program's output was lost"
        elif outcome.oom_killed:
            why = f"sandbox: killed: out of memory (limit {memory})"
        else:
            why = f"sandbox: the runner ended without a result (exit {outcome.status_code}): {outcome.log_tail.strip()}"
        return RunResult(exit_code=None if outcome.hard_timeout else outcome.status_code, stdout="", stderr=why,
                         timed_out=outcome.hard_timeout, duration=outcome.duration, oom_killed=outcome.oom_killed)
    stderr = data["stderr"]
    oom = outcome.oom_killed and data.get("signal") == 9
    if oom:
        stderr += f"\nsandbox: killed: out of memory (limit {memory})"
    shot = base64.b64decode(data["screenshot"]) if data.get("screenshot") else None
    return RunResult(exit_code=data["exit_code"], stdout=data["stdout"], stderr=stderr, timed_out=data["timed_out"],
                     duration=data["duration"], screenshot=shot, oom_killed=oom, truncated=data["truncated"],
                     args=tuple(str(a) for a in data.get("args") or ()), waiting_input=bool(data.get("waiting_input")),
                     reused=bool(data.get("reused")))


# ----------------------------------------------------------------------------- what "it works" means


def verify_program(project_dir: Path, *, entry: str | None = None, timeout: float = 15.0, gui: bool | None = None,
                   sandbox: Sandbox | None = None, tests_timeout: float | None = None, static_only: bool = False,
                   allow_install: bool = False, tests: bool = True,
                   args: Sequence[Sequence[str]] = (),
                   expect: Sequence[Any] = (), runs: RunMemo | None = None) -> ProgramReport:
    """Static check, then the entry point for ``timeout`` seconds (whatever the check found), then
    the project's pytest tests, each with its own limit and result.

    ``args``: example argument lists (``chatdev.checks.examples.for_run``); the entry point runs with
    each in turn until one fails or is still running at ``timeout``, and that run (else the
    last) is the report's ``run``. None given: one run without arguments.

    One container does all three (``static_only``: the check alone; ``tests=False``: no
    tests). ``gui=None`` detects pygame/tkinter/... and runs under Xvfb with a screenshot.
    ``allow_install`` (or the sandbox's) pip-installs missing modules in a separate networked
    step first. Failing programs are a report (``runs``/``tests_pass``), not an exception.
    ``runs``: the build's kept runs (``sandbox/reuse.py``): when the program's files, entry,
    window and arguments are those of a kept run, the program is not run again (its run comes
    back ``reused``); the static check and the tests always run.
    """
    box = sandbox or Sandbox(allow_install=allow_install)
    if allow_install and not box.allow_install:
        box = box.with_image(box.image, allow_install=True)
    tests_window = tests_timeout if tests_timeout is not None else max(30.0, 4 * timeout)
    spec = {"mode": "verify", "entry": entry, "timeout": float(timeout), "gui": gui, "tests_timeout": tests_window,
            "static_only": static_only, "tests": tests, "test_timeout": TEST_TIMEOUT,
            "args": [[str(a) for a in argv] for argv in args] or [[]]}
    project_dir = Path(project_dir)
    tests_src, program_src, known = _project_sources(project_dir)  # the run in the sandbox changes none of them
    key = None
    if runs is not None and not static_only:
        key = RunMemo.key(project_dir, [project_dir / rel for rel in known if not is_test_path(rel)], entry=entry,
                          timeout=float(timeout), gui=gui, args=spec["args"], image=box.image)
    kept = runs.get(key) if runs is not None and key else None
    if kept is not None:
        spec["skip_run"] = True
    # a test session that dies is run again test by test: room for that too
    outcome = box._execute(project_dir, spec, hard_timeout=(0 if kept else timeout) + 2 * tests_window + 2 * box.grace)
    payload = outcome.payload or {}
    if kept is not None and payload.get("run_skipped"):  # an older runner image runs it anyway: that run stands
        payload = {**payload, "run": {**kept, "reused": True}}
    elif runs is not None and key and payload.get("run") and not outcome.hard_timeout:
        runs.put(key, payload["run"])
    run = _run_result(payload["run"], outcome, box.memory) if payload.get("run") else None
    test_run = _run_result(payload["tests"], outcome, box.memory) if payload.get("tests") else None
    if outcome.payload is None:
        run = _run_result(None, outcome, box.memory)
    found_entry = (payload.get("probe") or {}).get("entry") if payload else None
    # files it loads that nobody wrote; an entry point that starts nothing
    extra = [*assets.missing(program_src, known=known),
             *(entrypoint.idle(found_entry, program_src[found_entry]) if found_entry in program_src else [])]
    if payload and extra:
        static = dict(payload.get("static") or {"ok": True, "errors": [], "warnings": [], "missing": []})
        payload = {**payload, "static": {**static, "ok": False, "errors": [*static.get("errors", []), *extra]}}
    report = build_report(payload, run=run, tests=test_run, allow_install=box.allow_install, static_only=static_only,
                          sources=tests_src, program=program_src, known=known)
    if tests and not static_only and report.runs is not None:
        report = _with_project_scenarios(project_dir, report, entry=entry, box=box)
    if tests and not static_only and report.runs and expect:  # what the task says its command lines print
        from chatdev.sandbox.results import with_scenarios

        report = with_scenarios(report, run_scenarios(project_dir, list(expect), entry=entry, sandbox=box),
                                where="the task")
    missing = (payload.get("static") or {}).get("missing") or []
    if missing and box.allow_install:
        wanted = install_names(project_dir, missing)
        try:
            tag = install_requirements(project_dir, wanted, image=box.image, index_url=box.pip_index_url)
        except SandboxError as exc:
            text = f"{report.summary}\nInstalling {', '.join(wanted)} (--allow-install) failed: {exc}"
            return dataclasses.replace(report, summary=text[-1500:])
        again = verify_program(project_dir, entry=entry, timeout=timeout, gui=gui, sandbox=box.with_image(tag),
                               tests_timeout=tests_timeout, static_only=static_only, tests=tests, args=args)
        note = f"Installed {', '.join(wanted)} (--allow-install; cached as {tag}).\n"
        return dataclasses.replace(again, summary=(note + again.summary)[:1500])
    return report


def _with_project_scenarios(project_dir: Path, report: ProgramReport, *, entry: str | None,
                            box: Sandbox) -> ProgramReport:
    """The tester's acceptance scenarios (``tests/scenarios.yaml``), run and counted like tests."""
    from chatdev.checks import scenarios
    from chatdev.errors import ConfigError
    from chatdev.sandbox.results import with_scenarios

    found = project_dir / scenarios.PROJECT_FILE
    if not found.is_file():
        return report
    try:
        wanted = scenarios.load_scenarios(found)
    except ConfigError:
        return report  # a scenario file that does not load is the tester's defect; the tests still count
    return with_scenarios(report, run_scenarios(project_dir, wanted, entry=entry, sandbox=box))


def _project_sources(project_dir: Path) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """(test files, program files: path -> text, by the supervisor's rules; every file the sandbox gets)."""
    from chatdev.sandbox.runner import probe

    tests: dict[str, str] = {}
    program: dict[str, str] = {}
    for path in probe.python_files(project_dir):  # the files the supervisor's pytest sees, by its rule
        rel = path.relative_to(project_dir)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        (tests if probe.is_test_file(rel) else program)[rel.as_posix()] = text
    known = {(base / f).relative_to(project_dir).as_posix() for base, _, names in _walk(project_dir) for f in names}
    return tests, program, known


def run_scenarios(project_dir: Path, scenarios: list[Any], *, entry: str | None = None, gui: bool | None = None,
                  sandbox: Sandbox | None = None) -> list[Any]:
    """Acceptance scenarios (``chatdev.checks.scenarios``) against the entry point, in one container.

    A project with no entry point fails every scenario; a hung or crashed sandbox too.
    """
    from chatdev.checks.scenarios import ScenarioResult, judge

    if not scenarios:
        return []
    box = sandbox or Sandbox()
    spec = {"mode": "scenarios", "entry": entry, "gui": gui, "scenarios": [s.to_spec() for s in scenarios]}
    window = sum(s.timeout + 3.0 for s in scenarios)
    outcome = box._execute(Path(project_dir), spec, hard_timeout=window + box.grace)
    payload = outcome.payload
    if payload is None:
        why = _run_result(None, outcome, box.memory).stderr
        return [ScenarioResult(s.name, False, why) for s in scenarios]
    if (payload.get("probe") or {}).get("entry") is None:
        return [ScenarioResult(s.name, False, "no entry point") for s in scenarios]
    runs = payload.get("scenarios") or []
    return [judge(s, runs[i]) if i < len(runs) else ScenarioResult(s.name, False, "not run")
            for i, s in enumerate(scenarios)]


def install_requirements(project_dir: Path, packages: list[str], *, image: str | None = None,
                         index_url: str | None = None, timeout: float = 600.0) -> str:
    """Opt-in (``--allow-install``): pip-install ``packages`` WITH network in a separate container.

    The result is committed as an image layer (``chatdev-runner-extra:<hash>``) and reused;
    runs on it are networkless again. Raises ``SandboxError`` with pip's last lines on failure.
    """
    import hashlib

    wanted = sorted({p.strip() for p in packages if p.strip()})
    bad = [p for p in wanted if not PACKAGE_RE.match(p)]
    if bad or not wanted:
        raise UsageError(f"not a package requirement: {', '.join(bad) or '(none)'}")
    box = Sandbox(image=image)
    box.ensure_image()
    engine = box.client
    base_id = engine.images.get(box.image).id
    key = hashlib.sha256("\n".join([base_id, index_url or "", *wanted]).encode()).hexdigest()[:16]
    tag = f"{EXTRA_REPO}:{key}"
    if sandbox_image.image_state(engine, tag)[0]:
        return tag
    docker = _docker()
    argv = ["/usr/bin/python3", "-m", "pip", "install", "--no-input", "--retries", "1", "--timeout", "20",
            "--target", "/opt/chatdev/extra", *_index_args(index_url), *wanted]
    run_id = uuid.uuid4().hex[:12]
    labels = {LABEL: "1", f"{LABEL}.run": run_id, f"{LABEL}.install": "1"}
    container = None
    try:
        container = engine.containers.create(
            image=box.image, command=argv, user=f"{UID}:{UID}", labels=labels, detach=True, init=True,
            network_mode="bridge", cap_drop=["ALL"], security_opt=["no-new-privileges"], mem_limit="1g",
            memswap_limit="1g", pids_limit=256, tmpfs={"/tmp": "rw,nosuid,nodev,size=512m,mode=1777"},
            log_config=docker.types.LogConfig(type="json-file", config={"max-size": "8m", "max-file": "1"}))
        container.start()
        try:
            code = container.wait(timeout=timeout).get("StatusCode")
        except _request_errors():
            code = None
        output = container.logs(stdout=True, stderr=True, tail=30).decode("utf-8", "replace").strip()
        if code != 0:
            last = [x for x in output.splitlines() if x.strip()][-3:] or ["timed out" if code is None else "no output"]
            raise SandboxError(f"pip could not install {', '.join(wanted)}: {' | '.join(last)}",
                               hint="check the package names, or run without --allow-install and use what the "
                                    "image has")
        container.commit(repository=EXTRA_REPO, tag=key, changes=[f'CMD {json.dumps(AGENT)}'],
                         conf={"Labels": {"org.chatdev.runner.packages": " ".join(wanted)}})
    except docker.errors.APIError as exc:
        raise SandboxError(f"the Docker engine refused the install step: {exc.explanation or exc}") from exc
    finally:
        _remove(engine, container, run_id, "")
    return tag


def _index_args(index_url: str | None) -> list[str]:
    """pip options for a private index; a plain-http one (a local mirror) must be trusted explicitly."""
    if not index_url:
        return []
    from urllib.parse import urlparse

    url = urlparse(index_url)
    return ["--index-url", index_url, *(["--trusted-host", url.hostname] if url.scheme == "http" and url.hostname
                                        else [])]


# ----------------------------------------------------------------------------- commands


def build_image(*, bootstrap: bool, force: bool = False, sink: EventSink = null_sink, base: str | None = None) -> str:
    """Build (or reuse when current) the runner image; returns ``chatdev-runner:<version>``."""
    return sandbox_image.build(client(), bootstrap=bootstrap, force=force, base=base, sink=sink)


def preflight() -> str:
    """Before a build: the engine answers and the runner image exists, else one ``SandboxError`` line."""
    box = Sandbox()
    box.ensure_image()
    return box.image


def is_available() -> bool:
    """Engine reachable and runner image present (no container started)."""
    try:
        return sandbox_image.image_state(client(), sandbox_image.image_tag())[0]
    except SandboxError:
        return False


HARDENING_PROBE = r"""
import json, os
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
try:
    open("/usr/chatdev-probe", "w"); root_writable = True
except OSError:
    root_writable = False
print(json.dumps({"uid": os.getuid(), "interfaces": sorted(os.listdir("/sys/class/net")),
                  "root_writable": root_writable, "cap_eff": status["CapEff"].strip(),
                  "no_new_privs": status.get("NoNewPrivs", "").strip(), "seccomp": status.get("Seccomp", "").strip()}))
"""


def check() -> SandboxStatus:
    """Engine, version, image, and whether a hardened run really is hardened. Never raises for Docker."""
    tag = sandbox_image.image_tag()
    try:
        engine = client()
    except SandboxError as exc:
        return SandboxStatus(ok=False, engine_reachable=False, engine_version=None, api_version=None, image=tag,
                             image_present=False, image_current=False, hardened_run_ok=False,
                             problem=str(exc), hint=exc.hint)
    version = engine.version()
    present, current = sandbox_image.image_state(engine, tag)
    common = {"engine_reachable": True, "engine_version": version.get("Version"),
              "api_version": version.get("ApiVersion"), "image": tag, "image_present": present,
              "image_current": current}
    if not present:
        return SandboxStatus(ok=False, hardened_run_ok=False, problem=f"the runner image {tag} is missing",
                             hint=sandbox_image.BUILD_HINT, **common)
    with tempfile.TemporaryDirectory(prefix="chatdev-check-") as tmp:
        (Path(tmp) / "probe.py").write_text(HARDENING_PROBE)
        result = Sandbox(image=tag).run(Path(tmp), ["python3", "probe.py"], timeout=20)
    try:
        details = json.loads(result.stdout)
    except json.JSONDecodeError:
        details = {"error": result.stderr[-500:]}
    hardened = (result.exit_code == 0 and details.get("uid", 0) != 0 and details.get("interfaces") == ["lo"]
                and details.get("root_writable") is False and int(details.get("cap_eff", "1"), 16) == 0
                and details.get("no_new_privs") == "1")
    problem = None if hardened else "the hardened test run did not behave as expected"
    if not current and hardened:
        problem = f"{tag} is outdated"
    return SandboxStatus(ok=hardened, hardened_run_ok=hardened, run_seconds=round(result.duration, 3),
                         details=details, problem=problem,
                         hint="rebuild: chatdev sandbox build --bootstrap" if problem else None, **common)


def run_project(project: Path, *, gui: bool, timeout: float, args: Sequence[str] | None = None) -> ProgramReport:
    """``chatdev run``: verify the project in the sandbox; with ``gui`` force a screen and save the screenshot.

    Without ``gui`` a GUI program is still detected and run under Xvfb; only the file is not written.
    """
    project = Path(project)
    if not project.is_dir():
        raise UsageError(f"{project}: no such project folder", hint="give the folder `chatdev build` made")
    if not any(name.endswith(".py") for _, _, names in _walk(project) for name in names):
        raise UsageError(f"{project}: no Python file to run",
                         hint="point chatdev run at a folder made by `chatdev build`")
    from chatdev.checks import examples

    runs = [list(args)] if args else examples.for_project(project)
    report = verify_program(project, timeout=timeout, gui=True if gui else None, args=runs)
    if gui and report.screenshot:
        screens = project / ".chatdev" / "screens"
        screens.mkdir(parents=True, exist_ok=True)
        path = screens / f"run-{time.strftime('%Y%m%d-%H%M%S')}.png"
        path.write_bytes(report.screenshot)
        report = dataclasses.replace(report, screenshot_path=str(path))
    return report
