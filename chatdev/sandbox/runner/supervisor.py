"""The process a sandbox container starts (``python3 -I /opt/chatdev/supervisor.py``).

It waits until the host has copied the project in (``/work/app``) together with a
spec (``/work/.chatdev-spec.json``, then the ``/work/.chatdev-ready`` marker), reads
and deletes the spec, runs what it asks for and prints one line
``@@chatdev-result <nonce>@@ {json}`` on its stdout, which the host reads from the
container's log. The program's own output never reaches that stream: it goes
through pipes, capped, into the JSON.

Each program runs in its own session with stdin an open, silent pipe (a program
waiting for input is "still running", not crashed), under Xvfb when ``gui`` is set,
and everything it started is killed (``kill(-1, SIGKILL)``) when its step ends,
so a daemon cannot outlive it. Standard library only, plus Pillow for screenshots
and pyflakes (through ``probe``) — both in the runner image.
"""

from __future__ import annotations

import base64
import io
import json
import os
import platform
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:  # on the host (tests): the package; in the image: the files next to this one
    from chatdev.sandbox.runner import chatdev_fresh, probe
except ImportError:
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [_here, os.path.join(_here, "pytest")]
    import chatdev_fresh  # type: ignore[no-redef]
    import probe  # type: ignore[no-redef]

WORK = Path("/work")
APP = WORK / "app"
SPEC = WORK / ".chatdev-spec.json"
READY = WORK / ".chatdev-ready"
DISPLAY = ":99"
SCREEN = "1024x768x24"
COLS, ROWS = 80, 24


class Capture:
    """Keep the first bytes and the last bytes of a stream (tracebacks come last)."""

    def __init__(self, cap: int) -> None:
        self.tail_cap = max(cap // 8, min(cap // 2, 4096))
        self.head_cap = max(cap - self.tail_cap, 0)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if not self.truncated:
            return head + tail
        omitted = self.total - len(self.head) - len(self.tail)
        return f"{head}\n[... {omitted} bytes omitted by the sandbox ...]\n{tail}"


def make_undumpable() -> bool:
    """Close this process's memory and file descriptors to the programs it starts (same uid).

    A non-dumpable process's ``/proc/<pid>/mem``, ``/proc/<pid>/fd`` and ptrace are refused
    to other processes of its uid, so a program cannot read the run's nonce or write a
    result line onto this process's stdout. ``exec`` makes the program itself dumpable again.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        return False


def wait_for_project(limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while not READY.exists():
        if time.monotonic() > deadline:
            raise SystemExit("chatdev supervisor: the project never arrived")
        time.sleep(0.003)
    spec = json.loads(SPEC.read_text())
    SPEC.unlink()  # it holds the nonce; tar wrote it (and chowned it) before READY
    # READY stays: the engine may still be setting its owner and times when we see it,
    # and unlinking it then fails the whole copy ("lchown ...: no such file or directory")
    return spec


def start_xvfb() -> subprocess.Popen[bytes] | None:
    os.makedirs("/tmp/.X11-unix", mode=0o1777, exist_ok=True)
    proc = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = f"/tmp/.X11-unix/X{DISPLAY[1:]}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(sock):
            return proc
        time.sleep(0.01)
    return None


def grab() -> Any:
    try:
        from PIL import ImageGrab

        return ImageGrab.grab(xdisplay=DISPLAY)
    except Exception:  # noqa: BLE001 - no screen yet, or the server died: no screenshot
        return None


def png(image: Any) -> str | None:
    if image is None:
        return None
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=3)
    return base64.b64encode(buf.getvalue()).decode()


def kill_everything() -> None:
    """SIGKILL every process this uid may signal but this one and PID 1 (the container's init)."""
    me = os.getpid()
    for _ in range(20):
        try:
            os.kill(-1, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        alive = []
        for pid in others:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(pid)
            except OSError:
                pass
        reap()
        if not alive:
            return
        time.sleep(0.01)


_READS = {"x86_64": {"0", "17", "19"}, "aarch64": {"63", "65", "67"}}  # read, pread64, readv


def reading_stdin(session: int) -> bool:
    """Whether a process of ``session`` is blocked reading its standard input (``input()``,
    ``sys.stdin.read()``): ``/proc/<pid>/syscall`` is a read and its first argument fd 0."""
    reads = _READS.get(platform.machine(), set())
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:  # state ppid pgrp session
                continue
            with open(f"/proc/{pid}/syscall") as fh:
                call = fh.read().split()
        except (OSError, ValueError, IndexError):
            continue
        if len(call) > 1 and call[0] in reads and int(call[1], 16) == 0:
            return True
    return False


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal of COLS x ROWS for curses programs: (master, slave)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    return master, slave


def render_screen(raw: bytes) -> str:
    """What a COLS x ROWS terminal shows after ``raw`` (pyte, from the image); the raw text without it."""
    try:
        import pyte
    except ImportError:
        return raw.decode("utf-8", "replace")
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    stream.feed(raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return f"[terminal screen {COLS}x{ROWS} at the end of the run]\n" + "\n".join(lines) + "\n"


def execute(argv: list[str], *, timeout: float, gui: bool, cap: int,
            extra_env: dict[str, str] | None = None, tty: bool = False, stdin: str = "",
            keys: list[str] | None = None, eof: bool = False) -> dict[str, Any]:
    """Run ``argv`` in /work/app for at most ``timeout`` seconds; never raises for the program's sake.

    ``tty``: stdin and stdout are a pseudo-terminal (curses); stdout is then the final screen.
    ``stdin``: typed at the start (stdin then stays open and silent; ``waiting_input`` says the
    program was still waiting to read it when its window ended), or, with ``eof``, followed by the
    end of the input, as when it is piped in (``sys.stdin.read()`` returns). ``keys`` (with ``gui``):
    sent to the program's window once it shows; ``changed`` then says whether the screen
    differs after them.
    """
    env = dict(os.environ)
    env.update(extra_env or {})
    shot = None
    xvfb = None
    if gui:
        xvfb = start_xvfb()
        env["DISPLAY"] = DISPLAY
        env["MPLBACKEND"] = "TkAgg"  # plt.show() opens a window the screenshot sees
        env.pop("SDL_VIDEODRIVER", None)
    else:
        env["SDL_VIDEODRIVER"] = "dummy"
    out, err = Capture(cap), Capture(cap)
    master = slave = -1
    if tty:
        master, slave = open_terminal()
        env.update(TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS))
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=APP, env=env, stdin=slave if tty else subprocess.PIPE,
                                stdout=slave if tty else subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        kill_everything()
        return {"argv": argv, "exit_code": 127, "stdout": "", "stderr": f"cannot start {argv[0]}: {exc}",
                "timed_out": False, "duration": 0.0, "truncated": False, "screenshot": None}
    if tty:
        os.close(slave)
        streams = {master: out, proc.stderr.fileno(): err}  # type: ignore[union-attr]
        if stdin or eof:
            _type_into(master, stdin + ("\n\x04" if eof and not stdin.endswith("\n") else "\x04" if eof else ""))
    else:
        streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}  # type: ignore[union-attr]
        if stdin:
            _type_into(proc.stdin.fileno(), stdin)  # type: ignore[union-attr]
        if eof:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
    sel = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + timeout
    timed_out = False
    next_shot = start + 1.0
    before = None
    keys_at = start + min(1.5, timeout / 3) if gui and keys else None

    def pump(wait: float) -> None:
        for key, _ in sel.select(timeout=max(wait, 0)):
            try:
                data = os.read(key.fd, 1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                streams[key.fd].add(data)
            else:
                sel.unregister(key.fd)

    while True:
        if proc.poll() is not None:
            break
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if keys_at is not None and now >= keys_at:
            before = grab()
            send_keys(list(keys or ()), env)
            keys_at = None
            next_shot = time.monotonic() + 1.0
        elif gui and now >= next_shot:
            shot = grab() or shot
            next_shot = now + 1.0
        if sel.get_map():
            pump(min(0.05, deadline - now))
        else:
            time.sleep(min(0.05, max(deadline - now, 0)))
    duration = time.monotonic() - start
    if gui and proc.poll() is None:
        shot = grab() or shot
    waiting = timed_out and not gui and reading_stdin(proc.pid)  # its own session (start_new_session)
    changed = None
    if keys and gui and before is not None and shot is not None:
        changed = before.tobytes() != shot.tobytes()
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    code = proc.wait()
    drain_until = time.monotonic() + 0.2  # output still in the pipes; a daemon holding them is cut off
    while sel.get_map() and time.monotonic() < drain_until:
        pump(0.02)
    sel.close()
    kill_everything()
    if xvfb is not None:
        xvfb.poll()
    if tty:
        os.close(master)
    return {
        "argv": argv,
        "exit_code": None if timed_out else (128 - code if code < 0 else code),
        "stdout": render_screen(bytes(out.head + out.tail)) if tty else out.text(),
        "stderr": err.text(),
        "timed_out": timed_out,
        "duration": round(duration, 3),
        "truncated": out.truncated or err.truncated,
        "screenshot": png(shot) if gui else None,
        "signal": -code if code < 0 and not timed_out else None,
        "changed": changed,
        "waiting_input": waiting,
    }


def _type_into(fd: int, text: str) -> None:
    """Write the scripted input; a program that never reads it must not block the supervisor."""
    try:
        os.set_blocking(fd, False)
        os.write(fd, text.encode()[:65536])
    except OSError:
        pass


def send_keys(keys: list[str], env: dict[str, str]) -> None:
    """Real (XTEST) key presses into the program's window: focus it, point at it, type."""
    def xdotool(*args: str) -> str:
        try:
            return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    # No window manager: keys go to the window under the pointer. Point at the program's
    # largest window (not a full-screen helper window); focusing one by id can steal the focus
    # from the real one (SDL), so the pointer alone decides.
    width, height = (int(v) for v in SCREEN.split("x")[:2])
    best: tuple[int, int, int] | None = None
    for wid in xdotool("search", "--onlyvisible", "--name", "").split():
        geo = dict(line.split("=", 1) for line in xdotool("getwindowgeometry", "--shell", wid).split() if "=" in line)
        try:
            x, y, w, h = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        except (KeyError, ValueError):
            continue
        if w >= width and h >= height:
            continue
        if best is None or w * h > best[0]:
            best = (w * h, x + w // 2, y + h // 2)
    if best is not None:
        xdotool("mousemove", str(best[1]), str(best[2]))
    for key in keys:
        xdotool("key", key)
        time.sleep(0.12)


def verify(spec: dict[str, Any], cap: int) -> dict[str, Any]:
    """Static check, then the program's own run (whatever the check found), then its tests, each on its own.

    The run is the first verdict: a lint error (in a test file above all) never stops it.
    """
    info = probe.inspect(APP, spec.get("entry"))
    result: dict[str, Any] = {"probe": info, "static": None, "run": None, "tests": None, "cases": None, "gui": False}
    try:
        result["static"] = probe.static_check(APP)
    except Exception as exc:  # noqa: BLE001 - the check itself must not hide the program's result
        result["static"] = {"ok": True, "errors": [], "warnings": [f"static check failed: {exc}"], "missing": []}
    if info["entry"] is None or spec.get("static_only"):
        return result
    gui = spec["gui"] if spec.get("gui") is not None else bool(info["gui"])
    result["gui"] = gui
    delivered = chatdev_fresh.snapshot(APP)
    result["run_skipped"] = bool(spec.get("skip_run"))  # the caller kept this program's run (sandbox/reuse.py)
    for args in [] if result["run_skipped"] else spec.get("args") or [[]]:  # the examples, until one fails or waits
        args = [str(a) for a in args]
        run = execute([*probe.entry_argv(info["entry"]), *args], timeout=spec["timeout"], gui=gui, cap=cap,
                      tty=bool(info.get("tui")) and not gui)
        result["run"] = {**run, "args": args}
        if run["timed_out"] or run["exit_code"] != 0:
            break
    if info["tests"] and spec.get("tests", True):
        chatdev_fresh.restore(APP, delivered)  # what the runs saved is not the tests' starting point
        result["tests"], result["cases"] = run_tests(spec, info["entry"], gui=gui, cap=cap)
    return result


JUNIT = "/tmp/chatdev-junit.xml"
PLUGINS = os.path.dirname(os.path.abspath(chatdev_fresh.__file__))  # /opt/chatdev/pytest in the image
MAX_CASES = 40


def run_tests(spec: dict[str, Any], entry: str, *, gui: bool, cap: int) -> tuple[dict[str, Any], list | None]:
    """pytest with a time limit per test and a result per test (JUnit XML).

    If the session itself dies (a test calls ``os._exit``, crashes the interpreter, or the
    whole window runs out) each collected test runs alone, so one bad test cannot hide the rest.
    Each test starts from the delivered folder (the ``chatdev_fresh`` plugin puts it back).
    """
    per_test = int(spec.get("test_timeout") or 10)
    env = {"PYTHONPATH": f"{APP}:{(APP / entry).parent}:{PLUGINS}"}
    base = ["python3", "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", "-p", "chatdev_fresh",
            "-o", "addopts=",
            "--tb=short", f"--timeout={per_test}", "-o", "timeout_method=signal", "-o", "junit_family=xunit1"]
    window = float(spec["tests_timeout"])
    run = execute([*base, f"--junitxml={JUNIT}"], timeout=window, gui=gui, cap=cap, extra_env=env)
    cases = read_junit(JUNIT)
    if cases is not None or run["exit_code"] == 5:
        return run, cases
    listing = execute([*base, "--collect-only"], timeout=min(window, 30.0), gui=False, cap=cap, extra_env=env)
    ids = [ln.strip() for ln in listing["stdout"].splitlines() if "::" in ln and not ln.startswith(" ")]
    cases = []
    deadline = time.monotonic() + window
    for test_id in ids[:MAX_CASES]:
        left = deadline - time.monotonic()
        if left <= 1:
            cases.append({"id": test_id, "file": test_id.split("::")[0], "name": test_id.split("::")[-1],
                          "outcome": "error", "message": "not run: the test window ran out", "text": ""})
            continue
        one = execute([*base, f"--junitxml={JUNIT}", test_id], timeout=min(left, per_test + 10.0), gui=gui,
                      cap=cap, extra_env=env)
        found = read_junit(JUNIT)
        if found:
            cases.extend(found)
        else:
            why = "timed out" if one["timed_out"] else f"the test process died (exit {one['exit_code']})"
            cases.append({"id": test_id, "file": test_id.split("::")[0], "name": test_id.split("::")[-1],
                          "outcome": "error", "message": why, "text": (one["stderr"] or one["stdout"])[-1500:]})
    return run, cases


def read_junit(path: str) -> list[dict[str, Any]] | None:
    """One dict per test case (id, file, name, outcome, message, text); None when there is no report."""
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    cases: list[dict[str, Any]] = []
    for case in tree.iter("testcase"):
        name = case.get("name", "")
        file = case.get("file") or (case.get("classname", "").replace(".", "/") + ".py" if case.get("classname")
                                    else name.replace(".", "/") + ".py")
        outcome, message, text = "passed", "", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or "")[:500]
                text = (node.text or "")[-2000:]
                break
        test_id = f"{file}::{name}" if case.get("classname") else file
        cases.append({"id": test_id, "file": file, "name": name if case.get("classname") else "",
                      "outcome": outcome, "message": message, "text": text, "line": case.get("line")})
        if len(cases) >= MAX_CASES:
            break
    return cases


def scenarios(spec: dict[str, Any], cap: int) -> dict[str, Any]:
    """Each acceptance scenario: the entry point with its argv, typed stdin or keys."""
    info = probe.inspect(APP, spec.get("entry"))
    result: dict[str, Any] = {"probe": info, "scenarios": []}
    if info["entry"] is None:
        return result
    gui = spec["gui"] if spec.get("gui") is not None else bool(info["gui"])
    argv = probe.entry_argv(info["entry"])
    for item in spec.get("scenarios", []):
        run = execute([*argv, *map(str, item.get("argv") or [])], timeout=float(item.get("timeout") or 6.0),
                      gui=gui, cap=min(cap, 64 * 1024), stdin=str(item.get("stdin") or ""),
                      keys=list(item.get("keys") or []), tty=bool(info.get("tui")) and not gui,
                      eof=bool(item.get("eof")))
        run.pop("screenshot", None)
        result["scenarios"].append(run)
    return result


def main() -> int:
    make_undumpable()
    spec = wait_for_project()
    cap = int(spec.get("cap", 512 * 1024))
    if spec["mode"] == "verify":
        result = verify(spec, cap)
    elif spec["mode"] == "scenarios":
        result = scenarios(spec, cap)
    else:
        result = {"run": execute(spec["argv"], timeout=spec["timeout"], gui=spec.get("gui", False), cap=cap,
                                 tty=spec.get("tty", False))}
    sys.stdout.write(f"@@chatdev-result {spec['nonce']}@@ {json.dumps(result)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
