"""The hardened sandbox on a real Docker engine and the real runner image.

Every escape or abuse attempt runs as generated code inside the sandbox and must end
with the container (and its volume) gone, the host unchanged and a truthful result.
Skipped only when no Docker engine answers; a missing runner image is a failure
(scripts/ensure_docker.sh builds it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatdev.errors import SandboxError, UsageError
from chatdev.sandbox import container, image

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def engine() -> Any:
    try:
        client = container.client()
    except SandboxError as exc:
        pytest.skip(f"no Docker engine reachable: {exc.line()}")
    present, current = image.image_state(client, image.image_tag())
    if not present:
        pytest.fail(f"the runner image {image.image_tag()} is missing: run scripts/ensure_docker.sh")
    if not current:  # the runner files changed: rebuild on the cached base (seconds)
        container.build_image(bootstrap=True)
    return client


@pytest.fixture
def label(engine: Any) -> Iterator[dict[str, str]]:
    """A label unique to the test; afterwards no container or volume may carry it."""
    mark = {"org.chatdev.test": uuid.uuid4().hex}
    yield mark
    selector = {"label": f"org.chatdev.test={mark['org.chatdev.test']}"}
    assert engine.containers.list(all=True, filters=selector) == [], "a sandbox container was left behind"
    assert engine.volumes.list(filters=selector) == [], "a sandbox volume was left behind"


@pytest.fixture
def box(label: dict[str, str]) -> container.Sandbox:
    return container.Sandbox(labels=label)


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def run_code(box: container.Sandbox, tmp_path: Path, code: str, *, timeout: float = 10) -> container.RunResult:
    project(tmp_path, {"main.py": code})
    before = tree_hash(tmp_path)
    result = box.run(tmp_path, ["python3", "main.py"], timeout=timeout)
    assert tree_hash(tmp_path) == before, "the host project folder changed"
    return result


def host_processes_with(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG with zlib alone (the host venv has no Pillow)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 3
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colours(data: bytes) -> set[tuple[int, int, int]]:
    width, _height, rows = png_pixels(data)
    bpp = len(rows[0]) // width
    return {tuple(row[i:i + 3]) for row in rows[::4] for i in range(0, len(row), bpp * 4)}  # type: ignore[misc]


# ----------------------------------------------------------------------------- the plain run


def test_hardened_run_reports_exit_code_and_output(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, """
        import os, sys
        print("uid", os.getuid(), "cwd", os.getcwd())
        print("oops", file=sys.stderr)
        sys.exit(3)
    """)
    assert r.exit_code == 3 and not r.timed_out and not r.oom_killed
    assert "uid 10001 cwd /work/app" in r.stdout and r.stderr.strip() == "oops"
    assert 0 <= r.duration < 5


def test_shell_command_and_python_on_path(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"data.txt": "42\n"})
    r = box.run(tmp_path, "cat data.txt && python -c 'import pygame, tkinter, numpy, PIL, requests; print(\"libs\")'"
                          " && pip --version >/dev/null && echo $HOME", timeout=20)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split() == ["42", "libs", "/tmp"]


def test_check_reports_a_hardened_engine(engine: Any) -> None:
    status = container.check()
    assert status.ok and status.engine_reachable and status.image_present, status
    assert status.details["uid"] == 10001 and status.details["interfaces"] == ["lo"]
    assert status.details["cap_eff"] == "0000000000000000" and status.details["no_new_privs"] == "1"
    assert json.loads(json.dumps(status.to_dict()))["hardened_run_ok"] is True
    assert container.is_available()


# ----------------------------------------------------------------------------- escape and abuse attempts


def test_no_network_but_loopback(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, """
        import json, os, socket
        out = {"interfaces": sorted(os.listdir("/sys/class/net"))}
        try:
            socket.getaddrinfo("deb.debian.org", 80)
            out["dns"] = "resolved"
        except OSError as exc:
            out["dns"] = type(exc).__name__
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("172.17.0.1", 2375))  # the Docker host's bridge address: on this machine
            out["connect"] = "connected"
        except OSError as exc:
            out["connect"] = exc.errno
        print(json.dumps(out))
    """)
    found = json.loads(r.stdout)
    assert r.exit_code == 0
    assert found["interfaces"] == ["lo"]
    assert found["dns"] == "gaierror"
    assert found["connect"] == 101  # ENETUNREACH: there is no route at all


def test_cannot_write_outside_tmp_and_work(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, """
        import json
        result = {}
        for path in ["/etc/evil", "/usr/evil", "/evil", "/opt/chatdev/supervisor.py", "/root/evil", "/var/evil",
                     "/tmp/fine", "/work/app/fine.txt"]:
            try:
                with open(path, "w") as fh:
                    fh.write("x")
                result[path] = "written"
            except OSError as exc:
                result[path] = exc.errno
        print(json.dumps(result))
    """)
    found = json.loads(r.stdout)
    assert r.exit_code == 0
    assert found.pop("/tmp/fine") == "written" and found.pop("/work/app/fine.txt") == "written"
    assert set(found.values()) <= {13, 30}, found  # EACCES / EROFS everywhere else


def test_host_project_folder_is_never_written(box: container.Sandbox, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("precious")
    r = run_code(box, tmp_path, """
        import os, shutil
        open("main.py", "w").write("hacked")
        os.remove("data.txt")
        os.makedirs("new/dir")
        open("new/dir/file", "w").write("x")
        print(sorted(os.listdir(".")))
    """)
    assert r.exit_code == 0 and "new" in r.stdout and "data.txt" not in r.stdout  # it happened inside...
    assert (tmp_path / "data.txt").read_text() == "precious" and not (tmp_path / "new").exists()  # ...not here


def test_fork_bomb_is_contained(box: container.Sandbox, tmp_path: Path) -> None:
    marker = f"forkbomb-{uuid.uuid4().hex[:8]}"
    project(tmp_path, {"main.py": """
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    """})
    before = tree_hash(tmp_path)
    start = time.monotonic()
    r = box.run(tmp_path, ["python3", "main.py", marker], timeout=4)  # the marker is in every fork's cmdline
    assert r.timed_out and r.exit_code is None
    assert time.monotonic() - start < 40
    assert host_processes_with(marker) == [] and tree_hash(tmp_path) == before


def test_allocating_4gb_is_killed_truthfully(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, """
        chunks = []
        for _ in range(40):
            chunks.append(bytearray(100 * 1024 * 1024))  # zero-filled: the pages are touched
        print("allocated 4 GB")
    """, timeout=30)
    assert "allocated 4 GB" not in r.stdout
    assert r.oom_killed and r.exit_code == 137 and not r.timed_out
    assert "out of memory" in r.stderr


def test_infinite_loop_is_stopped_at_the_timeout(box: container.Sandbox, tmp_path: Path) -> None:
    start = time.monotonic()
    r = run_code(box, tmp_path, "print('spinning', flush=True)\nwhile True:\n    pass\n", timeout=2)
    wall = time.monotonic() - start
    assert r.timed_out and r.exit_code is None and r.stdout == "spinning\n"
    assert 1.9 <= r.duration < 3 and wall < 8


def test_printing_100_mb_is_capped(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, """
        import sys
        line = "x" * 1023 + "\\n"
        for _ in range(100 * 1024):
            sys.stdout.write(line)
        print("THE END")
    """, timeout=30)
    assert r.exit_code == 0 and r.truncated and not r.timed_out
    assert len(r.stdout) < 600_000 and r.stdout.rstrip().endswith("THE END")
    assert "bytes omitted by the sandbox" in r.stdout


def test_daemon_does_not_outlive_the_program(box: container.Sandbox, tmp_path: Path) -> None:
    marker = f"daemon-{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    r = run_code(box, tmp_path, f"""
        import os, subprocess, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "300", "{marker}"])
            os._exit(0)
        subprocess.Popen(["sh", "-c", "sleep 300; echo {marker}"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("main done")
    """, timeout=20)
    assert r.exit_code == 0 and not r.timed_out and r.stdout == "main done\n"
    assert time.monotonic() - start < 10  # it did not wait for the daemons
    assert host_processes_with(marker) == []


def test_host_environment_is_not_visible(box: container.Sandbox, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("CHATDEV_TEST_SECRET", secret)
    r = run_code(box, tmp_path, """
        import os
        print(dict(os.environ))
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    print(open(f"/proc/{pid}/environ", "rb").read())
                except OSError:
                    pass
    """)
    assert r.exit_code == 0 and "PATH" in r.stdout
    assert secret not in r.stdout and "CHATDEV_TEST_SECRET" not in r.stdout


def test_program_that_freezes_the_runner_hits_the_hard_timeout(label: dict[str, str], tmp_path: Path) -> None:
    box = container.Sandbox(labels=label, grace=3)
    start = time.monotonic()
    r = run_code(box, tmp_path, "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint('froze it')\n",
                 timeout=1)
    assert r.timed_out and r.exit_code is None and "hard timeout" in r.stderr
    assert time.monotonic() - start < 15


def test_program_that_kills_the_runner_is_not_a_success(box: container.Sandbox, tmp_path: Path) -> None:
    r = run_code(box, tmp_path, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    assert r.exit_code != 0 and not r.timed_out and "without a result" in r.stderr


def test_ctrl_c_removes_the_container(engine: Any, label: dict[str, str], tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import time\ntime.sleep(60)\n"})
    script = textwrap.dedent(f"""
        from pathlib import Path
        from chatdev.sandbox.container import Sandbox
        try:
            Sandbox(labels={label!r}).run(Path({str(tmp_path)!r}), ["python3", "main.py"], timeout=60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    # a runner started in the background ignores SIGINT and children inherit that: restore Ctrl-C
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    selector = {"label": f"org.chatdev.test={label['org.chatdev.test']}"}
    deadline = time.monotonic() + 20
    while not engine.containers.list(filters=selector) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.containers.list(filters=selector), "the sandbox container never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)  # cleanup is slow on a loaded 2-core machine
    assert "interrupted" in out
    # the label fixture asserts the container and its volume are gone


# ----------------------------------------------------------------------------- headless GUI


def test_pygame_program_gives_a_screenshot(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": """
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((400, 300))
        clock = pygame.time.Clock()
        while True:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    raise SystemExit
            screen.fill((0, 120, 255))
            pygame.draw.rect(screen, (255, 40, 40), (50, 50, 100, 80))
            pygame.display.flip()
            clock.tick(30)
    """})
    r = box.run(tmp_path, ["python3", "main.py"], timeout=3, gui=True)
    assert r.timed_out and "Traceback" not in r.stderr, r.stderr
    assert r.screenshot is not None
    seen = colours(r.screenshot)
    assert (0, 120, 255) in seen and (255, 40, 40) in seen, sorted(seen)[:10]


def test_tk_program_gives_a_screenshot(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"app.py": """
        import tkinter as tk
        root = tk.Tk()
        root.geometry("300x200+0+0")
        canvas = tk.Canvas(root, width=300, height=200, background="#00ff00")
        canvas.pack()
        canvas.create_rectangle(20, 20, 120, 120, fill="#ff00ff", outline="")
        tk.Label(root, text="Hello from Tk").pack()
        root.mainloop()
    """})
    report = container.verify_program(tmp_path, timeout=3, sandbox=box)  # gui detected from `import tkinter`
    assert report.passed and report.gui and report.entry == "app.py", report.summary
    assert report.screenshot is not None
    seen = colours(report.screenshot)
    assert (0, 255, 0) in seen and (255, 0, 255) in seen, sorted(seen)[:10]


def test_run_project_with_gui_writes_the_screenshot(label: dict[str, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, {"main.py": """
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((200, 200))
        screen.fill((200, 200, 0))
        pygame.display.flip()
        pygame.time.wait(10000)
    """})
    report = container.run_project(tmp_path, gui=True, timeout=2)
    assert report.passed and report.screenshot_path
    shots = list((tmp_path / ".chatdev" / "screens").glob("*.png"))
    assert [str(p) for p in shots] == [report.screenshot_path]
    assert (200, 200, 0) in colours(shots[0].read_bytes())


def test_curses_program_runs_on_a_terminal(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"snake.py": """
        import curses

        def main(stdscr):
            stdscr.addstr(2, 4, "SNAKE  score: 0")
            stdscr.addstr(3, 4, "#" * 20)
            stdscr.refresh()
            while True:
                stdscr.getch()

        if __name__ == "__main__":
            curses.wrapper(main)
    """})
    report = container.verify_program(tmp_path, sandbox=box, timeout=2)
    assert report.passed and report.run is not None and report.run.timed_out, report.summary
    assert "    SNAKE  score: 0" in report.run.stdout and "#" * 20 in report.summary


# ----------------------------------------------------------------------------- what "it works" means


def test_verify_passes_a_working_program_with_tests(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "main.py": "from calc import add\n\nif __name__ == '__main__':\n    print(add(2, 3))\n",
        "tests/test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    assert report.passed and report.static_ok and report.tests_found and not report.gui, report.summary
    assert report.run is not None and report.run.exit_code == 0 and report.run.stdout == "5\n"
    assert report.tests is not None and report.tests.exit_code == 0 and "1 passed" in report.summary


def test_verify_reports_static_errors_and_still_runs_the_program(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {
        "main.py": "import random\nimport notamodule_zzz\n\nprint(randint(1, 6))\nopen('ran', 'w')\n",
        "broken.py": "def f(:\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    # the run is the first verdict: a static error never stops it, and the crash is the proof
    assert not report.passed and not report.static_ok and report.run is not None and report.runs is False
    assert "ModuleNotFoundError" in report.run_reason
    assert "main.py:4:7: undefined name 'randint'" in report.summary
    assert "No module named 'notamodule_zzz'" in report.summary and "Nothing can be installed" in report.summary
    assert "broken.py:1" in report.summary and "syntax error" in report.summary
    assert "'random' imported but unused" in report.static_output


def test_a_sound_the_project_lacks_is_a_static_error_beside_the_crash(box: container.Sandbox, tmp_path: Path) -> None:
    """The 1.5B's snake: `pygame.mixer.Sound('eat.wav')` at the top, no eat.wav, "mixer not initialized"."""
    project(tmp_path, {
        "main.py": "import pygame\nSOUND_EAT = pygame.mixer.Sound('eat.wav')\nHEAD = pygame.image.load('head.png')\n"
                   "if __name__ == '__main__':\n    pygame.init()\n",
        "head.png": "",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    assert report.runs is False and not report.static_ok, report.summary
    assert "main.py:2:13: loads 'eat.wav', which the project does not have" in report.summary
    assert "head.png" not in report.static_output  # the project has that one


def test_verify_reads_exit_codes_and_tracebacks(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import sys\nprint('bad input', file=sys.stderr)\nsys.exit(2)\n"})
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    assert not report.passed and "exit code 2" in report.summary and "bad input" in report.summary
    (tmp_path / "main.py").write_text("def go():\n    return 1 / 0\n\ngo()\n")
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    assert not report.passed and "ZeroDivisionError: division by zero" in report.summary


def test_a_check_after_a_test_only_change_reuses_the_programs_run(box: container.Sandbox, tmp_path: Path) -> None:
    """The snake build ran the game for 15 s again after each import repair of its test file."""
    from chatdev.sandbox.reuse import RunMemo

    project(tmp_path, {"main.py": "import time\nprint('started', time.time_ns())\n",
                       "tests/test_main.py": "import main\n\n\ndef test_one():\n    assert main.time\n"})
    memo = RunMemo()
    first = container.verify_program(tmp_path, sandbox=box, timeout=5, runs=memo)
    assert first.passed and first.run is not None and not first.run.reused
    (tmp_path / "tests" / "test_main.py").write_text("import main\n\n\ndef test_one():\n    assert not main.time\n")
    again = container.verify_program(tmp_path, sandbox=box, timeout=5, runs=memo)
    assert again.run is not None and again.run.reused and again.run.stdout == first.run.stdout
    assert again.runs is True and again.tests_pass is False  # the tests ran again: they changed
    other = container.verify_program(tmp_path, sandbox=box, timeout=6, runs=memo)  # another window: run again
    assert other.run is not None and not other.run.reused and other.run.stdout != first.run.stdout
    (tmp_path / "main.py").write_text("import time\nprint('started again', time.time_ns())\n")
    changed = container.verify_program(tmp_path, sandbox=box, timeout=5, runs=memo)
    assert changed.run is not None and not changed.run.reused and "started again" in changed.run.stdout


def test_rebuilding_the_runner_image_keeps_an_image_another_tag_still_names(engine: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild of one tag removed the old image it replaced although another tag still named it
    (a session's CHATDEV_RUNNER_IMAGE build untagged the runner a running bench was using)."""
    mark = uuid.uuid4().hex[:12]
    ours, other = f"chatdev-runner:test-{mark}", f"chatdev-runner:other-{mark}"
    (tmp_path / "Dockerfile").write_text(f"FROM {image.image_tag()}\nLABEL {image.DIGEST_LABEL}=stale-{mark}\n")
    stale, _ = engine.images.build(path=str(tmp_path), rm=True)  # an image neither current nor shared
    stale.tag(ours)
    stale.tag(other)
    monkeypatch.setenv("CHATDEV_RUNNER_IMAGE", ours)
    try:
        assert container.build_image(bootstrap=True) == ours
        assert engine.images.get(ours).id != stale.id
        assert engine.images.get(other).id == stale.id  # still there, under the tag that names it
    finally:
        for tag in (ours, other):
            try:
                engine.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


def test_verify_runs_the_program_with_each_example_until_one_fails(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import sys\n"
                                  "if len(sys.argv) != 2:\n    print('usage: main.py N'); sys.exit(1)\n"
                                  "n = int(sys.argv[1])\nprint(list(range(n)))\n"})
    bare = container.verify_program(tmp_path, sandbox=box, timeout=5, tests=False)
    assert bare.runs is False
    assert "`python3 main.py` printed only its usage (exit code 1): it does not run without arguments" in bare.summary
    good = container.verify_program(tmp_path, sandbox=box, timeout=5, tests=False, args=[["3"], ["2"]])
    assert good.runs is True and good.run.args == ("2",) and good.run.stdout.strip() == "[0, 1]"
    assert "`python3 main.py 2` exited 0" in good.run_reason
    bad = container.verify_program(tmp_path, sandbox=box, timeout=5, tests=False, args=[["x"], ["2"]])
    assert bad.runs is False and bad.run.args == ("x",)  # the first failure is the verdict; the rest not run
    assert "`python3 main.py x` crashed (exit code 1): ValueError" in bad.run_reason


def test_a_tool_that_asks_for_what_its_arguments_gave_does_not_run(box: container.Sandbox, tmp_path: Path) -> None:
    """The 1.5B's primes tool read its number with input() although the task gives it as the argument."""
    project(tmp_path, {"main.py": "n = int(input('Enter a number: '))\nprint([p for p in range(2, n + 1)])\n",
                       "game.py": "print(' 1 | 2 | 3')\nprint(' 4 | 5 | 6')\nwhile True:\n    input('Move: ')\n",
                       "busy.py": "while True:\n    pass\n"})
    asks = container.verify_program(tmp_path, sandbox=box, timeout=2, tests=False, args=[["30"]])
    assert asks.runs is False and asks.run is not None and asks.run.waiting_input
    assert asks.run_reason == ("`python3 main.py 30` waited for typed input (it printed 'Enter a number:') "
                               "instead of using its arguments")
    assert "read the values from sys.argv (sys.argv[1:] is ['30'])" in asks.summary
    bare = container.verify_program(tmp_path, sandbox=box, timeout=2, tests=False)  # no arguments: it may ask
    assert bare.runs is True and bare.run is not None and bare.run.waiting_input
    board = container.verify_program(tmp_path, sandbox=box, entry="game.py", timeout=2, tests=False, args=[["x"]])
    assert board.runs is True and board.run is not None and board.run.waiting_input  # it showed a board first
    busy = container.verify_program(tmp_path, sandbox=box, entry="busy.py", timeout=2, tests=False, args=[["30"]])
    assert busy.runs is True and busy.run is not None and not busy.run.waiting_input


def test_what_the_task_says_a_command_prints_is_checked_beside_the_tests(box: container.Sandbox,
                                                                         tmp_path: Path) -> None:
    """The 1.5B's Caesar tool exited 0 on `decode 3 khoor` and printed nkrru: it ran, and did not do the task."""
    from chatdev.checks import examples

    task = "a Caesar cipher tool: `python main.py encode 3 hello` prints khoor, `python main.py decode 3 khoor` " \
           "prints hello"
    expect = examples.task_outputs(task)
    project(tmp_path, {"main.py": "import sys\nop, k, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
                                  "print(''.join(chr((ord(c) - 97 + k) % 26 + 97) for c in text))\n"})
    wrong = container.verify_program(tmp_path, sandbox=box, timeout=5, args=[["encode", "3", "hello"]], expect=expect)
    assert wrong.runs is True and wrong.tests_pass is False and not wrong.passed, wrong.summary
    assert ("the task::the task: `python main.py decode 3 khoor` prints hello: the output lacks 'hello' "
            "(it printed 'nkrru')") in wrong.summary
    (tmp_path / "main.py").write_text("import sys\nop, k, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
                                      "k = -k if op == 'decode' else k\n"
                                      "print(''.join(chr((ord(c) - 97 + k) % 26 + 97) for c in text))\n")
    right = container.verify_program(tmp_path, sandbox=box, timeout=5, args=[["encode", "3", "hello"]], expect=expect)
    assert right.passed and right.tests_pass is True and "Acceptance scenarios: 2 pass." in right.summary



def test_a_command_the_task_names_that_never_ends_fails_its_scenario(box: container.Sandbox, tmp_path: Path) -> None:
    """The 1.5B's todo list: `add 'buy milk'` in a ``while True:``, alive after 15 s, so it "runs"."""
    import dataclasses

    from chatdev.checks import examples

    task = "a command-line todo list that saves to a JSON file, with the commands `add TEXT`, `list` and `done N`"
    expect = [dataclasses.replace(s, timeout=2) for s in examples.task_commands(task)][:1]
    project(tmp_path, {"main.py": "import sys, time\nwhile True:\n    if sys.argv[1] == 'add':\n"
                                  "        print('added', sys.argv[2])\n    time.sleep(0.5)\n"})
    looping = container.verify_program(tmp_path, sandbox=box, timeout=3, args=[["add", "buy milk"]], expect=expect)
    assert looping.runs is True and looping.tests_pass is False, looping.summary
    assert "the task: `python main.py add 'buy milk'` ends: did not end within 2 s" in looping.summary
    (tmp_path / "main.py").write_text("import sys\nif sys.argv[1] == 'add':\n    print('added', sys.argv[2])\n")
    done = container.verify_program(tmp_path, sandbox=box, timeout=3, args=[["add", "buy milk"]], expect=expect)
    assert done.passed and done.tests_pass is True, done.summary

TODO = """import json, os, sys

FILE = "todo.json"


def load():
    return json.load(open(FILE)) if os.path.exists(FILE) else []


def add(text):
    items = load() + [text]
    json.dump(items, open(FILE, "w"))
    os.makedirs("backup", exist_ok=True)
    open("backup/last.txt", "w").write(text)
    return items


if __name__ == "__main__":
    if sys.argv[1:2] == ["add"]:
        add(" ".join(sys.argv[2:]))
    print(load())
"""


def test_each_test_starts_from_the_delivered_folder(box: container.Sandbox, tmp_path: Path) -> None:
    """The 1.5B's todo tests shared todo.json: "Left contains 3 more items" in the second test."""
    project(tmp_path, {
        "main.py": TODO, "notes.txt": "kept\n",
        "tests/test_main.py": "import os\nfrom main import add, load\n\n"
                              "def test_add_one():\n    assert add('a') == ['a']\n\n"
                              "def test_add_another():\n    assert add('b') == ['b']\n\n"
                              "def test_delete_notes():\n    os.remove('notes.txt')\n\n"
                              "def test_notes_are_there():\n    assert open('notes.txt').read() == 'kept\\n'\n"
                              "    assert not os.path.exists('backup')\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=5, args=[["add", "buy", "milk"]])
    assert report.runs and report.run is not None and "buy milk" in report.run.stdout
    assert [c.outcome for c in report.cases] == ["passed"] * 4, report.summary
    assert report.tests_pass is True and not (tmp_path / "todo.json").exists()


def test_fresh_folder_puts_back_what_a_test_changed(tmp_path: Path) -> None:
    from chatdev.sandbox.runner import chatdev_fresh

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "words.txt").write_text("one\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "__pycache__").mkdir()
    kept = chatdev_fresh.snapshot(tmp_path)
    (tmp_path / "data" / "words.txt").write_text("changed\n")
    (tmp_path / "empty").rmdir()
    (tmp_path / "made" / "deep").mkdir(parents=True)
    (tmp_path / "made" / "deep" / "x.json").write_text("[]")
    (tmp_path / "__pycache__" / "main.pyc").write_bytes(b"x")
    touched = chatdev_fresh.restore(tmp_path, kept)
    assert sorted(touched) == ["data/words.txt", "empty", "made", "made/deep", "made/deep/x.json"]
    assert (tmp_path / "data" / "words.txt").read_text() == "one\n" and (tmp_path / "empty").is_dir()
    assert not (tmp_path / "made").exists() and (tmp_path / "__pycache__" / "main.pyc").exists()
    assert chatdev_fresh.restore(tmp_path, kept) == []


def test_verify_accepts_a_long_running_program_and_reports_failing_tests(box: container.Sandbox,
                                                                         tmp_path: Path) -> None:
    project(tmp_path, {
        "server.py": "import time\n\ndef double(x):\n    return x * 3\n\nif __name__ == '__main__':\n"
                     "    while True:\n        time.sleep(0.1)\n",
        "test_server.py": "from server import double\n\ndef test_double():\n    assert double(2) == 4\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=2)
    assert report.run is not None and report.run.timed_out and "still running" in report.summary
    assert not report.passed and report.tests is not None and report.tests.exit_code == 1
    assert report.runs and report.tests_pass is False and [c.outcome for c in report.cases] == ["failed"]
    assert "test_server.py::test_double" in report.summary and "assert 6 == 4" in report.summary


def test_program_waiting_for_input_counts_as_running(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "name = input('Your name? ')\nprint('hi', name)\n"})
    report = container.verify_program(tmp_path, sandbox=box, timeout=2)
    assert report.passed and report.run is not None and report.run.timed_out, report.summary


def test_static_only_does_not_run_the_program(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import sys\nsys.exit(1)\n"})
    report = container.verify_program(tmp_path, sandbox=box, static_only=True)
    assert report.static_ok and report.run is None and report.runs is None and report.summary == "Static check clean."
    (tmp_path / "main.py").write_text("print(undefined_thing)\n")
    report = container.verify_program(tmp_path, sandbox=box, static_only=True)
    assert not report.passed and "undefined name 'undefined_thing'" in report.summary


def test_project_without_entry_point_is_a_failure_not_an_exception(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"a.py": "X = 1\n", "b.py": "Y = 2\n"})
    report = container.verify_program(tmp_path, sandbox=box, timeout=2)
    assert not report.passed and report.entry is None and "No entry point" in report.summary


# ----------------------------------------------------------------------------- bad environments: one line each


def test_daemon_not_reachable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(SandboxError) as info:
        container.Sandbox().run(tmp_path, "true", timeout=1)
    assert "not running or not reachable" in str(info.value) and info.value.exit_code == 3
    assert "\n" not in info.value.line() and "systemctl start docker" in info.value.line()
    status = container.check()
    assert not status.ok and not status.engine_reachable and "not reachable" in (status.problem or "")
    assert not container.is_available()


def test_docker_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    monkeypatch.setenv("PATH", str(tmp_path))  # a host without docker / dockerd binaries
    with pytest.raises(SandboxError, match="Docker is not installed") as info:
        container.client()
    assert "apt-get install docker.io" in info.value.line()


def test_permission_denied_on_the_socket(engine: Any, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not Path("/var/run/docker.sock").exists():
        pytest.skip("needs root to run the check as an unprivileged user against the real socket")
    code = "from chatdev.sandbox import container\ntry:\n    container.client()\nexcept Exception as e:\n    print(e.line())\n"
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "DOCKER_HOST": "",
                                                                        "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert "permission denied on the Docker socket" in out.stdout, out.stdout + out.stderr
    assert "usermod -aG docker" in out.stdout


def test_image_missing_says_how_to_build_it(label: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(SandboxError) as info:
        container.Sandbox(image="chatdev-runner:does-not-exist", labels=label).run(tmp_path, "true", timeout=1)
    assert "is missing" in str(info.value) and "chatdev sandbox build --bootstrap" in info.value.line()


def test_preflight(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert container.preflight() == image.image_tag()
    monkeypatch.setenv("CHATDEV_RUNNER_IMAGE", "chatdev-runner:not-built")
    with pytest.raises(SandboxError, match="chatdev-runner:not-built is missing"):
        container.preflight()


def test_ensure_docker_script_is_quick_when_ready(engine: Any) -> None:
    start = time.monotonic()
    out = subprocess.run(["bash", str(REPO / "scripts" / "ensure_docker.sh")], capture_output=True, text=True,
                         cwd=REPO, timeout=300, check=False,
                         env={**os.environ, "CHATDEV": f"{sys.executable} -m chatdev"})
    assert out.returncode == 0, out.stderr
    assert "the runner image is current" in out.stderr and time.monotonic() - start < 30


def test_cli_sandbox_build_reuses_a_current_image(engine: Any) -> None:
    out = subprocess.run([sys.executable, "-m", "chatdev", "sandbox", "build", "--bootstrap"], capture_output=True,
                         text=True, cwd=REPO, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == image.image_tag()
    assert "is current; reusing it" in out.stdout + out.stderr


def test_cli_run_reports_the_program(engine: Any, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import sys\nprint('hello')\nsys.exit(4)\n"})
    out = subprocess.run([sys.executable, "-m", "chatdev", "run", str(tmp_path), "--json"], capture_output=True,
                         text=True, cwd=REPO, timeout=120, check=False)
    data = json.loads(out.stdout)
    assert data["passed"] is False and data["run"]["exit_code"] == 4 and data["run"]["stdout"] == "hello\n"
    assert out.returncode == 1, "chatdev run exits 1 when the program fails"


def test_cli_run_exit_codes(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "print('hi')\n"})
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    out = subprocess.run([sys.executable, "-m", "chatdev", "run", str(tmp_path)], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=60, check=False)
    assert out.returncode == 3, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Docker daemon" in out.stderr
    with pytest.raises(UsageError):
        container.run_project(tmp_path / "nope", gui=False, timeout=1)


# ----------------------------------------------------------------------------- --allow-install


WHEEL_MODULE = "chatdev_demo_pkg"


def _wheel(dest: Path) -> Path:
    """A minimal pure-Python wheel, served by a local index the install container can reach."""
    import base64
    import zipfile

    name = f"{WHEEL_MODULE}-1.0-py3-none-any.whl"
    files = {f"{WHEEL_MODULE}/__init__.py": b"ANSWER = 42\n",
             f"{WHEEL_MODULE}-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: chatdev-demo-pkg\nVersion: 1.0\n",
             f"{WHEEL_MODULE}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                     b"Tag: py3-none-any\n"}
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{WHEEL_MODULE}-1.0.dist-info/RECORD,,\n"
    files[f"{WHEEL_MODULE}-1.0.dist-info/RECORD"] = record.encode()
    (dest / "chatdev-demo-pkg").mkdir(parents=True)
    wheel = dest / "chatdev-demo-pkg" / name
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    (dest / "chatdev-demo-pkg" / "index.html").write_text(f'<a href="{name}">{name}</a>\n')
    return wheel


@pytest.fixture
def local_index(engine: Any, tmp_path: Path) -> Iterator[str]:
    bridge = engine.networks.get("bridge").attrs["IPAM"]["Config"][0].get("Gateway", "172.17.0.1")
    root = tmp_path / "index"
    _wheel(root)
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", bridge, "--directory", str(root)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""  # "Serving HTTP on 172.17.0.1 port N ..."
        port = line.split(" port ")[1].split()[0]
        yield f"http://{bridge}:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_allow_install_uses_a_cached_layer_and_runs_networkless(engine: Any, label: dict[str, str], tmp_path: Path,
                                                                local_index: str) -> None:
    app = project(tmp_path / "app", {"main.py": f"import {WHEEL_MODULE}\nprint({WHEEL_MODULE}.ANSWER)\n"})
    plain = container.verify_program(app, sandbox=container.Sandbox(labels=label), timeout=5)
    assert not plain.passed and f"No module named '{WHEEL_MODULE}'" in plain.summary
    tag = container.install_requirements(app, ["chatdev-demo-pkg"], index_url=local_index)
    opted = None
    try:
        assert tag.startswith("chatdev-runner-extra:")
        assert container.install_requirements(app, ["chatdev-demo-pkg"], index_url=local_index) == tag  # cached
        box = container.Sandbox(image=tag, labels=label)
        report = container.verify_program(app, sandbox=box, timeout=5)
        assert report.passed and report.run is not None and report.run.stdout == "42\n", report.summary
        net = box.run(app, ["python3", "-c", "import os; print(os.listdir('/sys/class/net'))"], timeout=5)
        assert net.stdout.strip() == "['lo']"  # the installed image runs without network again
        # the opt-in inside verify_program: install, then verify again on the cached layer
        opted = container.verify_program(app, sandbox=container.Sandbox(labels=label, allow_install=True,
                                                                    pip_index_url=local_index), timeout=5)
        assert opted.passed and opted.summary.startswith(f"Installed {WHEEL_MODULE}"), opted.summary
    finally:
        made = [tag, *re.findall(r"chatdev-runner-extra:[0-9a-f]+", getattr(opted, "summary", ""))]
        for image_tag in made:
            engine.images.remove(image_tag, force=True)
    dead_index = local_index.rsplit(":", 1)[0] + ":9/"  # nothing listens there: the install fails
    failed = container.verify_program(app, sandbox=container.Sandbox(labels=label, allow_install=True,
                                                                 pip_index_url=dead_index), timeout=5)
    assert not failed.passed and "(--allow-install) failed: pip could not install" in failed.summary
    with pytest.raises(SandboxError, match="pip could not install no-such-package-zzz"):
        container.install_requirements(app, ["no-such-package-zzz"], index_url=local_index)
    with pytest.raises(UsageError):
        container.install_requirements(app, ["--index-url=http://evil/ pkg"])
    left = engine.containers.list(all=True, filters={"label": "org.chatdev.sandbox.install=1"})
    assert left == []


# ----------------------------------------------------------------------------- the run first, tests one by one


def test_a_lint_error_in_a_test_never_stops_the_run_and_each_test_has_its_own_result(box: container.Sandbox,
                                                                                      tmp_path: Path) -> None:
    project(tmp_path, {
        "main.py": "import time\nWIDTH = 640\n\ndef area(w, h):\n    return w * h\n\n"
                   "def run():\n    while True:\n        time.sleep(0.05)\n\nif __name__ == '__main__':\n    run()\n",
        "tests/test_main.py": "from main import area, run\n\ndef test_area():\n    assert area(2, 3) == 6\n\n"
                              "def test_width():\n    assert WIDTH == 640\n\ndef test_loop():\n    run()\n\n"
                              "def test_wrong():\n    assert area(2, 2) == 5\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=3)
    assert report.static_ok and report.runs is True, report.summary  # the test's lint error blocked nothing
    assert "undefined name 'WIDTH'" in "\n".join(report.test_static)
    outcome = {c.name: (c.outcome, c.defect) for c in report.cases}
    assert outcome["test_area"] == ("passed", None)
    assert outcome["test_width"][0] == "failed" and "never defines or imports" in outcome["test_width"][1]
    assert outcome["test_loop"][0] == "failed" and "does not finish in time" in outcome["test_loop"][1]
    assert outcome["test_wrong"] == ("failed", None)  # a real failure: the programmer hears of it
    assert report.tests_pass is False and "test_wrong" in report.summary and "test_width" not in report.summary


def test_a_test_that_kills_the_session_is_run_alone(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {
        "main.py": "print('ok')\n",
        "tests/test_main.py": "import os\n\ndef test_ok():\n    assert 1 + 1 == 2\n\ndef test_exit():\n"
                              "    os._exit(3)\n",
    })
    report = container.verify_program(tmp_path, sandbox=box, timeout=3)
    outcome = {c.name: c.outcome for c in report.cases}
    assert outcome.get("test_ok") == "passed" and outcome.get("tests/test_main.py::test_exit", outcome.get(
        "test_exit")) in ("error", "failed"), report.cases


FORGER = r"""
import json, os, signal
agent = os.getppid()
seen = {}
for what, path, mode in (("mem", f"/proc/{agent}/mem", os.O_RDONLY), ("stdout", f"/proc/{agent}/fd/1", os.O_WRONLY),
                         ("environ", f"/proc/{agent}/environ", os.O_RDONLY)):
    try:
        os.close(os.open(path, mode))
        seen[what] = "open"
    except OSError as exc:
        seen[what] = exc.errno
print(json.dumps(seen))
try:  # a forged result on the container's stdout, through the init process
    with open("/proc/1/fd/1", "w") as out:
        out.write('@@chatdev-result 00000000000000000000000000000000@@ {"run": {"exit_code": 0}}\n')
except OSError:
    pass
if os.environ.get("KILL"):
    os.kill(agent, signal.SIGKILL)
raise SystemExit(1)
"""


def test_a_program_cannot_forge_its_own_result(box: container.Sandbox, tmp_path: Path) -> None:
    project(tmp_path, {"main.py": FORGER, "tests/test_main.py": "def test_fails():\n    assert open('main.py').read() == ''\n"})
    report = container.verify_program(tmp_path, sandbox=box, timeout=5)
    seen = json.loads(report.run.stdout.strip().splitlines()[0])  # type: ignore[union-attr]
    # the supervisor is not dumpable: its memory and descriptors are closed to the program (same uid)
    assert seen == {"mem": 13, "stdout": 13, "environ": 13}, seen
    assert report.runs is False and report.tests_pass is False and not report.passed
    (tmp_path / "main.py").write_text("import os\nos.environ['KILL'] = '1'\n" + FORGER)
    killed = container.verify_program(tmp_path, sandbox=box, timeout=5)
    assert not killed.passed and killed.runs is False


def test_scenarios_drive_terminal_and_gui_programs(box: container.Sandbox, tmp_path: Path) -> None:
    from chatdev.checks.scenarios import Scenario

    project(tmp_path, {"main.py": "import sys\nif len(sys.argv) > 1:\n    print(float(sys.argv[1]) * 1000)\n"
                                  "else:\n    name = input('km? ')\n    print(float(name) * 1000, 'm')\n"
                                  "    input()\n"})
    got = container.run_scenarios(tmp_path, [Scenario("argv", argv=["10"], expect=["10000"]),
                                           Scenario("stdin", stdin="2\n", expect=["2000.0 m"], timeout=3),
                                           Scenario("wrong", argv=["x"], expect=["1"])], sandbox=box)
    assert [r.passed for r in got] == [True, True, False] and "ValueError" in got[2].reason
    project(tmp_path, {"main.py": textwrap.dedent("""
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((200, 150))
        x = 10
        clock = pygame.time.Clock()
        while True:
            for event in pygame.event.get():
                if event.type == pygame.KEYDOWN and event.key == pygame.K_RIGHT:
                    x += 40
            screen.fill((0, 0, 0))
            pygame.draw.rect(screen, (255, 255, 255), (x, 50, 20, 20))
            pygame.display.flip()
            clock.tick(30)
        """)})
    keys = container.run_scenarios(tmp_path, [Scenario("keys", keys=["Right", "Right"], screen_changes=True,
                                                     timeout=5)], sandbox=box)
    assert keys[0].passed, keys[0].reason


def test_a_window_game_that_closes_itself_before_the_keys_its_task_names_is_caught(box: container.Sandbox,
                                                                                    tmp_path: Path) -> None:
    """The 1.5B's pong (2026-12-07): no clock, the ball left the screen at once and the game ended in
    0.7 s with exit 0 -- a run by the one rule. The keys its task names find no window."""
    from chatdev.checks import examples

    task = "a pong game with pygame against a computer paddle; the player moves with the up and down arrow keys"
    project(tmp_path, {"main.py": textwrap.dedent("""
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((200, 150))
        x = 0
        while 0 <= x < 200:
            pygame.event.pump()
            screen.fill((0, 0, 0))
            pygame.draw.rect(screen, (255, 255, 255), (x, 50, 20, 20))
            pygame.display.flip()
            x += 1
        pygame.quit()
        """)})
    report = container.verify_program(tmp_path, sandbox=box, timeout=3, expect=examples.task_keys(task))
    assert report.runs is True and report.tests_pass is False, report.summary
    assert "the task::the task: its window takes Up, Down: the program ended by itself after" in report.summary


def test_a_game_whose_task_names_no_keys_is_tried_with_space_and_the_arrows(box: container.Sandbox,
                                                                           tmp_path: Path) -> None:
    """make demo's snake (2026-12-07) ran by the one rule and died at its first arrow key: the
    function that changed `direction` read it first. "a snake game" names no key."""
    from chatdev.checks import examples

    project(tmp_path, {"main.py": textwrap.dedent("""
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((200, 150))
        direction = "right"
        clock = pygame.time.Clock()


        def steer(key):
            if key == pygame.K_LEFT and direction != "right":
                direction = "left"


        while True:
            for event in pygame.event.get():
                if event.type == pygame.KEYDOWN:
                    steer(event.key)
            screen.fill((0, 0, 0))
            pygame.display.flip()
            clock.tick(30)
        """)})
    report = container.verify_program(tmp_path, sandbox=box, timeout=3, expect=examples.task_keys("a snake game"))
    assert report.runs is True and report.tests_pass is False, report.summary
    assert "a game: space and the arrow keys, no crash: crashed: UnboundLocalError" in report.summary, report.summary


def test_a_scenario_can_pipe_its_input_so_a_tool_that_reads_it_all_sees_its_end(box: container.Sandbox,
                                                                               tmp_path: Path) -> None:
    """The 1.5B's JSON to CSV converter (2026-12-07) read `sys.stdin.read()` and worked when piped to,
    but the check typed its input and kept stdin open: it "printed nothing". ``eof`` ends the input."""
    from chatdev.checks.scenarios import Scenario

    project(tmp_path, {"main.py": "import sys\nwords = sys.stdin.read().split()\nprint(len(words), 'words')\n"})
    piped, typed = container.run_scenarios(tmp_path, [Scenario("piped", stdin="a b c\n", eof=True, expect=["3 words"]),
                                                      Scenario("typed", stdin="a b c\n", expect=["3 words"],
                                                               timeout=2)], sandbox=box)
    assert piped.passed, piped.reason
    assert not typed.passed and "printed nothing" in typed.reason  # an open input: it is still reading


def test_a_tool_that_reads_standard_input_is_checked_with_a_sample_piped_to_it(box: container.Sandbox,
                                                                              tmp_path: Path) -> None:
    """The 1.5B's word counter (2026-12-07) called ``str.decode`` on what it read: its own run sat on
    an open, silent input and "ran"; with a sample piped in it crashes, and the crash names its line."""
    from chatdev.checks import examples

    task = "a word frequency counter that reads text from a file or standard input"
    project(tmp_path, {"main.py": "import sys\n\n\ndef main():\n    text = sys.stdin.read().decode('utf-8')\n"
                                  "    print(len(text.split()))\n\n\nif __name__ == '__main__':\n    main()\n"})
    broken = container.verify_program(tmp_path, sandbox=box, timeout=2, expect=examples.task_input(task))
    assert broken.runs is True and broken.tests_pass is False, broken.summary  # its own run waits on the input
    assert ("the task::the task: text piped to it on standard input: crashed: AttributeError: 'str' object has no "
            "attribute 'decode'") in broken.summary
    assert "(at main.py line 5, in main: `text = sys.stdin.read().decode('utf-8')`)" in broken.summary
    from chatdev.sandbox.results import crash_site

    site = crash_site(broken.summary, ["main.py"])  # the traceback comes with it: the fix prompt names the line
    assert site is not None and (site.path, site.line, site.function) == ("main.py", 5, "main"), broken.summary
    (tmp_path / "main.py").write_text("import sys\nprint(len(sys.stdin.read().split()), 'words')\n")
    fixed = container.verify_program(tmp_path, sandbox=box, timeout=2, expect=examples.task_input(task))
    assert fixed.passed and fixed.tests_pass is True, fixed.summary


def test_a_wrong_expectation_the_fix_left_as_it_was_is_disputed_and_an_input_loop_test_is_a_defect(
        box: container.Sandbox, tmp_path: Path) -> None:
    from chatdev.checks import disputes, triage

    program = ("import sys\n\ndef to_celsius(f):\n    return (f - 32) * 5 / 9\n\ndef unit(name):\n"
               "    if name not in ('C', 'F'):\n        raise ValueError(name)\n    return name\n\n"
               "def play():\n    while True:\n        print(int(input('Degrees? ')))\n\n"
               "def scale(name):\n    return name.upper()\n\n"
               "if __name__ == '__main__':\n    print(to_celsius(float(sys.argv[1])) if sys.argv[1:] else 0)\n")
    tests = ("from main import play, scale, to_celsius, unit\n\ndef test_celsius():\n    assert to_celsius(10) == 50.0\n\n"
             "def test_play():\n    play()\n\ndef test_unit():\n    assert unit('K') == 'K'\n\n"
             "def test_scale():\n    assert scale(1) == 'C'\n")
    project(tmp_path, {"main.py": program, "tests/test_main.py": tests})
    record, reports = disputes.Record(), []
    for _ in ("before the fix", "after the fix"):  # the same failures, read from two real runs
        report = container.verify_program(tmp_path, sandbox=box, timeout=3)
        judged = triage.triage([c.to_dict() for c in report.cases], {"tests/test_main.py": tests},
                               {"main.py": program})
        cases, record = disputes.mark(judged, record, sources={"tests/test_main.py": tests}, runs=report.runs)
        record.asked = [c.id for c in cases if c.counts and c.failed]  # all sent to the programmer
        reports.append({c.name: c for c in cases})
    first, second = reports
    assert not first["test_celsius"].disputed and first["test_celsius"].counts
    assert ("still fails the same way: `assert to_celsius(10) == 50.0` (assert -12.2222"
            in second["test_celsius"].disputed)  # the failing line, read from the real run
    assert not second["test_unit"].disputed  # raised inside the program: the programmer's to fix
    assert "waits for typed input" in str(second["test_play"].defect)
    assert "the test gives scale an int for `name`" in str(second["test_scale"].defect)
