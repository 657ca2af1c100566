"""The program's run is given the task's example arguments, else the design's (chatdev/checks/examples.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdev.checks import examples


@pytest.mark.parametrize(("command", "args"), [
    ("python main.py 10 km m", ["10", "km", "m"]),
    ("python3 main.py \"2 + 3 * 4\"", ["2 + 3 * 4"]),
    ("python main.py", []),
    ("py tool/cli.py encode 3 hello", ["encode", "3", "hello"]),
    ("echo 3 | python main.py", None),  # stdin is the scenarios' business
    ("python main.py < data.csv", None),
    ("python main.py; rm -rf /", None),
    ("python main.py $(whoami)", None),
    ("pip install x", None),
    ("python -m pkg", None),
    ("python main.py 'unclosed", None),
    ("", None),
])
def test_parse_takes_plain_python_command_lines(command: str, args: list[str] | None) -> None:
    assert examples.parse(command) == args


def test_the_tasks_examples_in_backticks_in_order_once() -> None:
    task = ("a Roman numeral converter: `python main.py 1994` prints MCMXCIV and `python main.py MCMXCIV` "
            "prints 1994 (also `python main.py 1994` again, and `MCMXCIV` alone is not a command)")
    assert examples.from_text(task) == [["1994"], ["MCMXCIV"]]
    assert examples.for_run(task, {"run": "python main.py 7"}) == [["1994"], ["MCMXCIV"]]  # people's words first


def test_the_subcommands_a_task_names_are_run_with_their_placeholders_filled() -> None:
    """The todo list's task names `add TEXT`, `list` and `done N`; the design's run was a bare `python main.py`."""
    task = "a command-line todo list that saves to a JSON file, with the commands `add TEXT`, `list` and `done N`"
    assert examples.task_examples(task) == [["add", "buy milk"], ["list"], ["done", "1"]]
    assert examples.for_run(task, {"run": "python main.py"}) == [["add", "buy milk"], ["list"], ["done", "1"]]
    # the task's python lines come first; keys, shells and words outside a "commands" clause are not subcommands
    assert examples.task_examples("notes with the command `python main.py add x`; commands `rm N`") == [["add", "x"]]
    assert examples.task_examples("a game: the command `q` quits") == []
    assert examples.task_examples("a tool, commands `ls | wc`, `Run`") == []
    assert examples.task_examples("type `add TEXT` to add") == []


def test_the_design_run_line_when_the_task_has_none() -> None:
    task = "a tool that prints every prime number up to the number given as its argument"
    assert examples.for_run(task, {"entry": "main.py", "run": "python main.py 20"}) == [["20"]]
    assert examples.for_run(task, {"entry": "main.py", "run": "`python3 main.py 20`"}) == [["20"]]
    assert examples.for_run(task, {"entry": "main.py", "run": "python main.py"}) == [[]]
    assert examples.for_run(task, {"entry": "main.py"}) == [[]]
    assert examples.for_run(task, None) == [[]]
    assert examples.for_run(task, {"run": 20}) == [[]]  # not text: ignored


def test_at_most_three_runs() -> None:
    task = " ".join(f"`python main.py {n}`" for n in range(6))
    assert examples.for_run(task, None) == [["0"], ["1"], ["2"]]


def test_for_project_reads_the_state(tmp_path: Path) -> None:
    assert examples.for_project(tmp_path) == [[]]  # not a chatdev project
    (tmp_path / ".chatdev").mkdir()
    (tmp_path / ".chatdev" / "state.json").write_text("{not json")
    assert examples.for_project(tmp_path) == [[]]
    (tmp_path / ".chatdev" / "state.json").write_text(json.dumps(
        {"task": "a unit converter, used as `python main.py 10 km m`", "outputs": {"design": {"run": "python main.py 1 m km"}}}))
    assert examples.for_project(tmp_path) == [["10", "km", "m"]]
    (tmp_path / ".chatdev" / "state.json").write_text(json.dumps(
        {"task": "primes up to its argument", "outputs": {"design": {"run": "python main.py 30"}}}))
    assert examples.for_project(tmp_path) == [["30"]]


def test_a_models_line_may_list_alternatives_like_a_usage_line() -> None:
    assert examples.first_command("python main.py add 'Buy milk' | list | done 1") == ["add", "Buy milk"]
    assert examples.first_command("`python3 main.py 20`") == ["20"]
    assert examples.first_command("echo 3 | python main.py") == []  # the pipe's reader, with no arguments
    assert examples.first_command("python main.py 5; rm -rf /") == ["5"]
    assert examples.first_command("run it with python") is None
    assert examples.for_run("t", None, {"run": "python main.py add milk | list"}) == [["add", "milk"]]


def test_what_the_task_says_its_commands_print() -> None:
    roman = examples.task_outputs("a Roman numeral converter: `python main.py 1994` prints MCMXCIV and "
                                  "`python main.py MCMXCIV` prints 1994")
    assert [(s.argv, s.expect) for s in roman] == [(["1994"], ["MCMXCIV"]), (["MCMXCIV"], ["1994"])]
    assert roman[0].name == "the task: `python main.py 1994` prints MCMXCIV"
    primes = examples.task_outputs("primes: `python main.py 20` prints `2 3 5 7 11 13 17 19`.")
    assert [(s.argv, s.expect) for s in primes] == [(["20"], ["2 3 5 7 11 13 17 19"])]
    assert examples.task_outputs("a converter used as `python main.py 10 km m` or `python main.py 100 C F`") == []
    assert examples.task_outputs("`ls | wc` prints 3") == []  # not a plain python command line


def test_the_tasks_own_command_lines_must_end() -> None:
    """The 1.5B's todo list ran `add 'buy milk'` in a ``while True:`` until it was killed."""
    todo = examples.task_commands("a command-line todo list that saves to a JSON file, with the commands "
                                  "`add TEXT`, `list` and `done N`")
    assert [(s.argv, s.ends) for s in todo] == [(["add", "buy milk"], True), (["list"], True), (["done", "1"], True)]
    assert todo[0].name == "the task: `python main.py add 'buy milk'` ends"
    caesar = "a Caesar cipher tool: `python main.py encode 3 hello` prints khoor, `python main.py decode 3 khoor` " \
             "prints hello"
    assert examples.task_commands(caesar) == []  # task_outputs runs those, and they must end too
    assert all(s.ends for s in examples.task_outputs(caesar))
    calc = examples.task_commands('a command-line calculator, like `python main.py "2 + 3 * 4"`')
    assert [s.argv for s in calc] == [["2 + 3 * 4"]]
    assert examples.task_commands("a Tkinter editor opened as `python main.py notes.txt`") == []  # a window stays
    assert examples.task_commands("a snake game") == []
    assert examples.task_commands("a text adventure game with the commands `north` and `take ITEM`") == []


def test_a_tool_that_reads_standard_input_is_given_a_sample_of_the_format_its_task_names() -> None:
    json_tool = examples.task_input("a JSON to CSV converter: reads a JSON list of objects from standard input")
    assert len(json_tool) == 1 and json_tool[0].eof and json_tool[0].argv == [] and json_tool[0].expect == []
    assert json_tool[0].name == "the task: a JSON list of objects piped to it on standard input"
    import json
    assert isinstance(json.loads(json_tool[0].stdin), list)
    kinds = {task: examples.task_input(task)[0].name.split(": ", 1)[1].split(" piped")[0] for task in (
        "a CSV column statistics tool that reads a CSV file or standard input",
        "a markdown table formatter that reads a table from standard input",
        "a log summarizer that reads log lines from stdin",
        "a word frequency counter that reads text from a file or standard input")}
    assert list(kinds.values()) == ["CSV", "a Markdown table", "log lines", "text"]
    assert examples.task_input("a snake game") == []
    assert examples.task_input("a flappy bird game: fly between the pipes") == []


def test_a_window_program_whose_task_names_its_keys_is_sent_them() -> None:
    breakout = examples.task_keys("a breakout game with pygame: move the paddle with the left and right arrow keys")
    assert len(breakout) == 1 and breakout[0].screen_changes and breakout[0].keys == ["Left", "Left", "Right", "Right"]
    assert breakout[0].name == "the task: its window takes Left, Right"
    shooter = examples.task_keys("a space shooter with pygame: arrow keys move the ship, space fires")
    assert shooter[0].keys == [k for k in ["Left", "Right", "Up", "Down", "space"] for _ in range(2)]
    assert examples.task_keys("a flappy bird style game with pygame; space makes the bird flap")[0].keys == \
        ["space", "space"]
    assert examples.task_keys("a maze game in a Tkinter window, moved with WASD")[0].keys[::2] == ["w", "a", "s", "d"]
    # "space" names the game, not a key: the keys any game is tried with, for a crash only
    assert [(s.keys, s.screen_changes) for s in examples.task_keys("a space shooter with pygame")] == [
        (list(examples.COMMON_KEYS), False)]
    assert examples.task_keys("a snake game")[0].name == "a game: space and the arrow keys, no crash"
    assert examples.task_keys("a hangman game in the terminal; the player types one letter a line") == []
    assert examples.task_keys("a snake game in the terminal moved with the arrow keys") == []  # no window
    assert examples.task_keys("a stopwatch in a Tkinter window") == []
