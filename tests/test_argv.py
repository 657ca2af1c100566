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


FORMATTER = '''import sys


def align(text):
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines() if line.strip()]
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(row) for row in rows))]
    return "\\n".join("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows)


def main():
    if len(sys.argv) != 2:
        print("Usage: python main.py <table>")
        sys.exit(1)
    print(align(sys.stdin.read()))


if __name__ == "__main__":
    main()
'''


def test_a_tool_fed_on_standard_input_is_fitted_to_no_arguments() -> None:
    assert fit_arity({"main.py": FORMATTER}, 0) == {"main.py": FORMATTER.replace("!= 2", "!= 1")}


@pytest.mark.docker
def test_a_stdin_tool_that_demands_an_argument_runs_without_one(tmp_path: Path, sandbox_ready: None) -> None:
    """The 1.5B's Markdown table formatter, told to read standard input, printed its usage and
    exited 1 when run bare, through 515 s of fixes. The real sandbox: the check fits its count to
    none, the program then waits on its input (runs) and formats the table piped to it."""
    from chatdev import events
    from chatdev.run import engine
    from tests.scripted_company import company_models, one_file_program, scripted

    task = "a markdown table formatter that reads a table from standard input and prints it with aligned columns"
    recorder = events.Recorder()
    company = one_file_program(FORMATTER, summary="A formatter.", run="python main.py")
    summary = engine.build(engine.BuildOptions(task=task, out=tmp_path), sink=recorder,
                           models=company_models(scripted(company)))
    project = Path(summary.project)
    assert "len(sys.argv) != 1" in (project / "main.py").read_text()
    assert summary.runs is True, summary
    notices = [e.text for e in recorder.events if isinstance(e, events.Notice)]
    assert any("reading standard input as the task says" in n for n in notices), notices


# ----------------------------------------------------------------------------- input() fed the arguments

ROMAN = '''def to_roman(n):
    out = ""
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + letters, n - value
    return out


def main():
    text = input("Enter a number: ")
    print(to_roman(int(text)))


if __name__ == "__main__":
    main()
'''

STEPS = '''"""Converts units."""
from __future__ import annotations


def main():
    value = float(input("Value: "))
    unit = input("From: ")
    to = input("To: ").strip()
    print(value * 1000 if (unit, to) == ("km", "m") else value)


main()
'''


def test_one_input_call_reads_the_arguments_joined(tmp_path: Path) -> None:
    import subprocess
    import sys

    from chatdev.repair.argv import feed_arguments

    fed = feed_arguments({"main.py": ROMAN, "README.md": "input()"}, 1)
    assert fed is not None and fed.calls == 1
    text = fed.files["main.py"]
    assert text.startswith("import sys\n\ndef to_roman(n):\n")
    assert '    text = " ".join(sys.argv[1:]) or input("Enter a number: ")\n' in text
    (tmp_path / "main.py").write_text(text)
    argv = subprocess.run([sys.executable, "main.py", "1994"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert argv.stdout == "MCMXCIV\n", argv.stderr
    typed = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, input="1994\n", capture_output=True,
                           text=True, timeout=30)
    assert typed.stdout.endswith("MCMXCIV\n")  # typed, it works as before


def test_as_many_input_calls_as_arguments_read_one_each() -> None:
    from chatdev.repair.argv import feed_arguments

    fed = feed_arguments({"main.py": STEPS}, 3)
    assert fed is not None and fed.calls == 3
    text = fed.files["main.py"]
    assert text.startswith('"""Converts units."""\nfrom __future__ import annotations\nimport sys\n')
    assert '    value = float(sys.argv[1] if len(sys.argv) > 1 else input("Value: "))\n' in text
    assert '    unit = sys.argv[2] if len(sys.argv) > 2 else input("From: ")\n' in text
    assert '    to = (sys.argv[3] if len(sys.argv) > 3 else input("To: ")).strip()\n' in text
    namespace: dict[str, object] = {}
    exec(compile(text.replace("\nmain()\n", "\n"), "main.py", "exec"), namespace)


@pytest.mark.parametrize(("program", "n", "why"), [
    (STEPS, 2, "three calls, two arguments: which reads what?"),
    (ROMAN.replace("def main():\n", "def main():\n    import sys\n    print(sys.argv)\n"), 1, "it reads sys.argv"),
    (ROMAN.replace("import", "") + "import argparse\n", 1, "it uses argparse"),
    ("while True:\n    move = input('> ')\n    print(move)\n", 1, "a loop of moves"),
    ("try:\n    n = int(input())\nexcept ValueError:\n    n = int(input())\nprint(n)\n", 2, "not one block"),
    ("print(1)\n", 1, "no input() at all"),
    (ROMAN, 0, "no arguments"),
])
def test_nothing_is_guessed(program: str, n: int, why: str) -> None:
    from chatdev.repair.argv import feed_arguments

    assert feed_arguments({"main.py": program}, n) is None, why
    assert feed_arguments({"main.py": ROMAN, "other.py": "x = input()\n"}, 1) is None  # two files ask


@pytest.mark.docker
def test_the_company_feeds_the_arguments_and_the_program_then_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: `python main.py 1994` waits on input(); the fixes send it back as it was."""
    from tests.scripted_company import build_scripted, one_file_program

    company = one_file_program(ROMAN, summary="A Roman numeral converter.", run="python main.py 1994")
    summary, notices = build_scripted(tmp_path, company, "a Roman numeral converter: `python main.py 1994` "
                                                         "prints MCMXCIV")
    text = (Path(summary.project) / "main.py").read_text()
    assert 'text = " ".join(sys.argv[1:]) or input("Enter a number: ")' in text
    assert summary.runs is True, summary
    assert any("main.py asked for what its command line gives: its input() call reads the arguments first now"
               in n for n in notices), notices


@pytest.mark.docker
def test_a_fit_that_is_taken_back_leaves_the_record_of_the_code_delivered(tmp_path: Path, sandbox_ready: None) -> None:
    """The 1.5B's second Markdown formatter read its table from sys.argv[1]: fitted to no arguments it
    died on that line, and the fit was taken back, but the build's record kept that crash."""
    from tests.scripted_company import build_scripted, stubborn_program

    program = FORMATTER.replace("print(align(sys.stdin.read()))", "print(align(sys.argv[1]))")
    task = "a markdown table formatter that reads a table from standard input and prints it with aligned columns"
    summary, notices = build_scripted(tmp_path, stubborn_program({"main.py": program}, summary="A formatter."), task)
    assert "len(sys.argv) != 2" in (Path(summary.project) / "main.py").read_text()  # taken back
    assert summary.runs is False
    assert summary.tests["run_reason"] == ("`python3 main.py` printed only its usage (exit code 1): "
                                           "it does not run without arguments"), summary.tests
    from chatdev.sandbox.results import STDIN_HINT

    assert STDIN_HINT in summary.tests["summary"]  # where the input is, for the fixer
