"""Sandbox overhead: one hardened `python -c pass` run, and one GUI run with a screenshot.

    .venv/bin/python bench/sandbox.py [--runs 7] [--json]

Each figure is the wall time of one ``Sandbox.run`` call: create the tmpfs volume and the
container, start it, copy the project in, run, read the result, remove both. For the GUI run
the program keeps its window open, so the figure is (wall time - the program's window):
Xvfb start, the screenshot, PNG encoding and the container's life cycle.
Targets (issue 6): under 1.5 s and 3 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from chatdev.sandbox.container import Sandbox

GUI_PROGRAM = """\
import pygame
pygame.init()
screen = pygame.display.set_mode((320, 240))
screen.fill((0, 120, 255))
pygame.draw.rect(screen, (255, 40, 40), (40, 40, 120, 80))
pygame.display.flip()
while True:
    pygame.event.pump()
    pygame.time.wait(50)
"""
GUI_WINDOW = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    box = Sandbox()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "main.py").write_text(GUI_PROGRAM)
        box.run(project, ["python3", "-c", "pass"], timeout=10)  # warm-up: image check, page cache
        plain, gui, shots = [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            r = box.run(project, ["python3", "-c", "pass"], timeout=10)
            plain.append(time.perf_counter() - t0)
            assert r.exit_code == 0, r
        for _ in range(args.runs):
            t0 = time.perf_counter()
            r = box.run(project, ["python3", "main.py"], timeout=GUI_WINDOW, gui=True)
            gui.append(time.perf_counter() - t0 - GUI_WINDOW)
            assert r.timed_out and r.screenshot, r
            shots.append(len(r.screenshot))
    result = {
        "runs": args.runs,
        "plain_median_s": round(statistics.median(plain), 3),
        "plain_min_s": round(min(plain), 3),
        "gui_overhead_median_s": round(statistics.median(gui), 3),
        "gui_overhead_min_s": round(min(gui), 3),
        "gui_window_s": GUI_WINDOW,
        "screenshot_bytes_median": int(statistics.median(shots)),
        "targets_s": {"plain": 1.5, "gui": 3.0},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"hardened `python -c pass`: median {result['plain_median_s']} s (min {result['plain_min_s']} s), "
              f"target 1.5 s")
        print(f"GUI run + screenshot overhead: median {result['gui_overhead_median_s']} s "
              f"(min {result['gui_overhead_min_s']} s; window {GUI_WINDOW} s not counted), target 3 s")


if __name__ == "__main__":
    main()
