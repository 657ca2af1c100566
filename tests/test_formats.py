"""Reply formats own how a reply is asked for: the instruction closing each request, a
one-shot example, the parser and the retry hint (chatdev/replies/formats.py).

Phase YAMLs say what to write; the format named by ``expects:`` says how to reply.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chatdev import events
from chatdev.company import config
from chatdev.errors import ConfigError
from chatdev.models.base import current_call, schema_errors
from chatdev.replies import formats
from chatdev.run import engine
from tests.scripted_company import company_models, first_requests, good_reply, scripted

SHIPPED = Path(config.defaults_dir()) / "phases"


def test_no_shipped_phase_spells_out_its_reply_format() -> None:
    for path in sorted(SHIPPED.glob("*.yaml")):
        text = path.read_text()
        assert "```python block" not in text, path.name
        assert "Reply with JSON" not in text, path.name


def test_every_shipped_json_schema_has_an_example_that_fits_it() -> None:
    company = config.load_company(None)
    schemas = [(name, getattr(p, "json_schema", None)) for name, p in company.phases.items()]
    with_json = [(name, s) for name, s in schemas if s]
    assert {"design", "code_review", "change_plan"} <= {name for name, _ in with_json}
    for name, schema in with_json:
        example = schema.get("examples", [None])[0]
        assert example is not None, name
        assert schema_errors(example, schema) == [], name


def test_the_files_format_names_the_one_file_or_asks_for_each_changed_file() -> None:
    files = formats.format_for("files")
    assert files.instruction(expected=["game.py"]) == (
        "Reply with the line game.py and then the whole file in one ```python block.")
    assert "```yaml block" in files.instruction(expected=["tests/scenarios.yaml"])
    assert files.instruction().startswith("For each file you change, write its path on one line")
    assert files.instruction(expected=["main.py", "game.py"]) == (
        "For each of main.py, game.py: write its path on one line and then the whole file in one ```python block.")
    # the retry shows the shape of a reply, with the file asked for
    hint = files.retry_hint(expected=["tests/test_main.py"])
    assert hint.startswith(files.hint) and "tests/test_main.py\n```python\n" in hint
    # the example's shape, with code where its placeholder is, is a reply the parser takes
    shaped = files.example(expected=["game.py"]).replace(formats.PLACEHOLDER.format(path="game.py"), "x = 1")
    assert files.parse(shaped, expected=["game.py"]) == {"game.py": "x = 1\n"}


def test_the_json_format_shows_the_schemas_example_or_a_skeleton() -> None:
    fmt = formats.format_for("json")
    schema = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}},
              "examples": [{"ok": False}]}
    assert fmt.instruction(schema=schema) == 'Reply with JSON only, like:\n{"ok": false}'
    bare = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"},
                                             "tags": {"type": "array", "items": {"type": "string"}},
                                             "mode": {"enum": ["fast", "slow"]}}}
    assert json.loads(fmt.example(schema=bare)) == {"name": "...", "n": 0, "tags": ["..."], "mode": "fast"}
    assert formats.format_for("text").instruction() == ""


def test_a_json_reply_that_is_the_example_word_for_word_is_asked_again() -> None:
    fmt = formats.format_for("json")
    scenarios = yaml.safe_load((SHIPPED / "scenario_writing.yaml").read_text())["schema"]  # not in the chain
    example = json.dumps(scenarios["examples"][0])
    # the 0.5B's scenarios for a primes tool (2026-12-07): the converter example, copied
    with pytest.raises(formats.SchemaViolation, match="copied word for word"):
        fmt.parse(example, schema=scenarios)
    own = {"scenarios": [{"name": "primes up to 10", "argv": ["10"], "expect": ["2", "3", "5", "7"]}]}
    assert fmt.parse(json.dumps(own), schema=scenarios) == own
    # an example with no text in it is a real answer: a review that approves
    review = config.load_company(None).phases["code_review"].json_schema
    assert fmt.parse('{"approved": true, "issues": []}', schema=review) == {"approved": True, "issues": []}


def test_each_request_ends_with_its_formats_instruction(tmp_path: Path) -> None:
    asked = first_requests(tmp_path, approve_after=1, counter={})
    assert asked["coding"].rstrip().endswith(
        "Write the complete file main.py (game logic and loop).\n"
        "Reply with the line main.py and then the whole file in one ```python block.")
    assert asked["test_writing"].rstrip().endswith(
        "Reply with the line tests/test_main.py and then the whole file in one ```python block.")
    assert asked["code_fix"].rstrip().endswith(
        "Fix the problems.\nFor each file you change, write its path on one line and then, in one ```python block, "
        "only the functions and classes you change, each complete (what you leave out stays as it is); the whole "
        "file only when most of it changes.")
    design = config.load_company(None).phases["design"].json_schema
    assert asked["design"].rstrip().endswith(
        "Do not list test files.\nReply with JSON only, like:\n" + json.dumps(design["examples"][0]))
    assert "Reply with" not in asked["demand_analysis"]  # prose: the prompt says it all


def test_a_files_retry_shows_an_example_reply(tmp_path: Path) -> None:
    notes: list[str] = []
    tries: list[int] = []

    def sloppy_once(messages):
        info = current_call()
        if info is not None and info.phase == "coding":
            tries.append(1)
            if len(tries) == 1:
                return "I like turtles."
            notes.append(messages[-1].content)
        return good_reply(messages)

    options = engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True)
    engine.build(options, sink=events.Recorder(), models=company_models(scripted(sloppy_once)))
    note = notes[0].split("could not be used", 1)[1]
    assert "Like this:\nmain.py\n```python\n(every line of main.py)\n```" in note


def test_an_example_that_breaks_its_schema_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "phases").mkdir()
    source = (SHIPPED / "code_review.yaml").read_text()
    broken = source.replace('examples: [{"approved": true, "issues": []}]', 'examples: [{"approved": "yes"}]')
    assert broken != source
    (tmp_path / "phases" / "code_review.yaml").write_text(broken)
    with pytest.raises(ConfigError, match=r"code_review.yaml: schema: examples\[0\] does not fit the schema"):
        config.load_company(tmp_path)


def test_a_reply_that_looped_to_its_token_limit_is_asked_again(tmp_path: Path) -> None:
    """The 1.5B's snake main.py: the same constants again and again to the limit, no game."""
    from tests.scripted_company import GAME

    loop = "main.py\n```python\nimport pygame\npygame.init()\n" + "SNAKE_SPEED_MAX = 50\nSNAKE_SPEED_MIN = 5\n" * 400
    notes: list[str] = []

    def loops_once(messages):
        info = current_call()
        if info is not None and info.phase == "coding":
            if not notes:
                notes.append("")
                return loop  # cut at max_tokens by the scripted model, like a real one
            notes.append(messages[-1].content)
        return good_reply(messages)

    options = engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True)
    summary = engine.build(options, sink=events.Recorder(), models=company_models(scripted(loops_once)))
    assert "main.py repeats the line `SNAKE_SPEED_MAX = 50`" in notes[1]
    assert "times and ran out of room before its end" in notes[1]
    assert (Path(summary.project) / "main.py").read_text() == GAME


def test_repeated_lines_in_a_finished_reply_are_fine() -> None:
    from chatdev.replies.parsing import looped

    assert looped({"main.py": "x = 1\n" + "    return False\n" * 3}) == ""
    assert looped({"main.py": "else:\n" * 20}) == ""  # short lines repeat in real code
    assert looped({"main.py": "# ---------- section\n" * 10}) == ""
    assert looped({"main.py": "total += value\n" * 6}).startswith("main.py repeats the line `total += value` 6 times")
    branches = "".join(f"    if unit == 'u{i}':\n        print('converting to u{i}')\n        value = value * {i}\n"
                       f"        value = round(value, {i})\n        log(unit, {i})\n        return value\n"
                       for i in range(11))
    assert looped({"main.py": "def convert(value, unit):\n" + branches}) == ""  # 11 of 67 lines: code


def test_the_examples_placeholder_copied_is_never_a_file() -> None:
    """The 0.5B's hangman fix (2026-12-06) sent ``(every line of hangman.py)`` as hangman.py."""
    from chatdev.models.base import SchemaViolation

    files = formats.format_for("files")
    known = {"hangman.py": "import random\n", "main.py": "import hangman\n"}
    echo = files.example(expected=["hangman.py"])
    with pytest.raises(SchemaViolation, match=r"hangman.py was the example's placeholder `\(every line of hangman.py\)`"):
        files.parse(echo, known=lambda: known)
    with pytest.raises(SchemaViolation, match="placeholder"):
        files.parse(echo, expected=["hangman.py"])
    both = f"{echo}\nmain.py\n```python\nimport hangman\nhangman.play()\n```"
    assert files.parse(both, known=lambda: known) == {"main.py": "import hangman\nhangman.play()\n"}


def test_a_python_block_of_sentences_is_no_file() -> None:
    """The 0.5B's space shooter (2026-12-06) sent space_shot.py as one paragraph in a python block."""
    from chatdev.models.base import SchemaViolation

    files = formats.format_for("files")
    prose = ("This `SpaceShot` class is designed to represent a space shot in a space shooter game. It has "
             "methods to draw the space shot on the screen.")
    with pytest.raises(SchemaViolation, match="space_shot.py held only sentences about the code"):
        files.parse(f"space_shot.py\n```python\n{prose}\n```", expected=["space_shot.py"])
    broken = "def fire(self:\n    return Shot(self.x)\n"  # code with a syntax error is still code: the fixes take it
    assert files.parse(f"shot.py\n```python\n{broken}```", expected=["shot.py"]) == {"shot.py": broken}
    manual = f"README.md\n```markdown\n{prose}\n```"
    assert files.parse(manual, expected=["README.md"]) == {"README.md": prose + "\n"}


def test_a_data_file_sent_as_python_code_is_no_file() -> None:
    """The 1.5B's hangman review fix (2026-12-07) sent main.py's code as words.txt."""
    from chatdev.models.base import SchemaViolation

    files = formats.format_for("files")
    known = {"main.py": "import random\nWORDS = open('words.txt').read().split()\n"}
    code = "import random\n\ndef load_word():\n    return random.choice(open('words.txt').read().split())\n"
    with pytest.raises(SchemaViolation, match="words.txt held Python code, not its data"):
        files.parse(f"words.txt\n```\n{code}```", known=lambda: known)
    words = "apple\nbanana\ncherry\n"  # one word a line parses as Python too: it is data
    assert files.parse(f"words.txt\n```\n{words}```", known=lambda: known) == {"words.txt": words}
    assert files.parse(f"requirements.txt\n```\npygame\n```", expected=["requirements.txt"]) == {
        "requirements.txt": "pygame\n"}
