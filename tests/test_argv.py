"""An argument count check that refuses the task's own command line is fitted to it (chatdev/repair/argv.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.repair.argv import fit_arity

CONVERTER = '''import sys


def main():
    if len(sys.argv) != 5:
        print("Usage: python main.py <value> <from_unit> <to_unit>")
        return
    value, frm, to = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    print(value * 1000 if (frm, to) == ("km", "m") else value)


if __name__ == "__main__":
    main()
'''


def test_the_count_the_command_line_gives_replaces_the_one_the_check_wants() -> None:
    fixed = fit_arity({"main.py": CONVERTER, "README.md": "len(sys.argv) != 5"}, 3)
    assert fixed == {"main.py": CONVERTER.replace("len(sys.argv) != 5", "len(sys.argv) != 4")}
    lt = CONVERTER.replace("!= 5", "< 5")
    assert fit_arity({"main.py": lt}, 3) == {"main.py": lt.replace("< 5", "< 4")}
    from_argv = "from sys import argv\nif len(argv) == 3:\n    print(argv[1])\n"
    assert fit_arity({"main.py": from_argv}, 1) == {"main.py": from_argv.replace("== 3", "== 2")}


def test_a_check_that_already_lets_the_count_through_is_left_alone() -> None:
    assert fit_arity({"main.py": CONVERTER}, 4) == {}  # != 5 lets 4 arguments through: not the refusal
    modes = "import sys\nif len(sys.argv) == 2:\n    pass\nelif len(sys.argv) == 4:\n    pass\n"
    assert fit_arity({"main.py": modes}, 3) == {}  # a mode for this count exists
    assert fit_arity({"main.py": "import sys\nif len(sys.argv) > 1:\n    pass\n"}, 3) == {}
    assert fit_arity({"main.py": "print(1)\n", "b.py": "def f(:\n"}, 3) == {}
    two_files = {"main.py": CONVERTER, "cli.py": CONVERTER}
    assert fit_arity(two_files, 3) == {}  # which one? not a guess


@pytest.mark.docker
def test_the_static_check_fits_the_count_and_the_program_then_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The whole path with the real sandbox: the review loop's check, the repair, the commit."""
    import subprocess

    from chatdev import events
    from chatdev.run import engine
    from tests.scripted_company import company_models, one_file_program, scripted

    company = one_file_program(CONVERTER, summary="A converter.", run="python main.py 10 km m")
    summary = engine.build(engine.BuildOptions(task="a unit converter, used as `python main.py 10 km m`",
                                               out=tmp_path), sink=events.Recorder(),
                           models=company_models(scripted(company)))
    project = Path(summary.project)
    assert "len(sys.argv) != 4" in (project / "main.py").read_text()
    assert summary.runs is True, summary
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert "Programmer|[static_check] Repair main.py without a model (imports, stand-in sounds and images, globals, the argument count)" in log
