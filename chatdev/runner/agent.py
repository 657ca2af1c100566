"""The process a sandbox container starts (``python3 -I /opt/chatdev/agent.py``).

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
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:  # on the host (tests): the package; in the image: the file next to this one
    from chatdev.runner import probe
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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


def wait_for_project(limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while not READY.exists():
        if time.monotonic() > deadline:
            raise SystemExit("chatdev agent: the project never arrived")
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
            extra_env: dict[str, str] | None = None, tty: bool = False) -> dict[str, Any]:
    """Run ``argv`` in /work/app for at most ``timeout`` seconds; never raises for the program's sake.

    ``tty``: stdin and stdout are a pseudo-terminal (curses); stdout is then the final screen.
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
    else:
        streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}  # type: ignore[union-attr]
    sel = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + timeout
    timed_out = False
    next_shot = start + 1.0

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
        if gui and now >= next_shot:
            shot = grab() or shot
            next_shot = now + 1.0
        if sel.get_map():
            pump(min(0.05, deadline - now))
        else:
            time.sleep(min(0.05, max(deadline - now, 0)))
    duration = time.monotonic() - start
    if gui and proc.poll() is None:
        shot = grab() or shot
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
    }


def verify(spec: dict[str, Any], cap: int) -> dict[str, Any]:
    info = probe.inspect(APP, spec.get("entry"))
    result: dict[str, Any] = {"probe": info, "static": None, "run": None, "tests": None, "gui": False}
    try:
        result["static"] = probe.static_check(APP)
    except Exception as exc:  # noqa: BLE001 - the check itself must not hide the program's result
        result["static"] = {"ok": True, "errors": [], "warnings": [f"static check failed: {exc}"], "missing": []}
    if not result["static"]["ok"] or info["entry"] is None or spec.get("static_only"):
        return result
    gui = spec["gui"] if spec.get("gui") is not None else bool(info["gui"])
    result["gui"] = gui
    result["run"] = execute(probe.entry_argv(info["entry"]), timeout=spec["timeout"], gui=gui, cap=cap,
                            tty=bool(info.get("tui")) and not gui)
    if info["tests"]:
        entry_dir = str((APP / info["entry"]).parent)
        argv = ["python3", "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", "-o", "addopts=",
                "--tb=short", f"--timeout={int(spec['tests_timeout'])}"]
        result["tests"] = execute(argv, timeout=spec["tests_timeout"], gui=gui, cap=cap,
                                  extra_env={"PYTHONPATH": f"{APP}:{entry_dir}"})
    return result


def main() -> int:
    spec = wait_for_project()
    cap = int(spec.get("cap", 512 * 1024))
    if spec["mode"] == "verify":
        result = verify(spec, cap)
    else:
        result = {"run": execute(spec["argv"], timeout=spec["timeout"], gui=spec.get("gui", False), cap=cap,
                                 tty=spec.get("tty", False))}
    sys.stdout.write(f"@@chatdev-result {spec['nonce']}@@ {json.dumps(result)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
