"""Parsing replies: the shapes small models produce, and the paths that must be refused."""

from __future__ import annotations

import pytest

from chatdev.models.base import SchemaViolation
from chatdev.replies.parsing import UnsafePath, parse_files, parse_json, safe_relpath


def test_path_line_then_fence() -> None:
    text = "Here you go.\n\nmain.py\n```python\nprint('hi')\n```\n\nutils/helpers.py\n```python\nX = 1\n```\n"
    parsed = parse_files(text)
    assert parsed.files == {"main.py": "print('hi')\n", "utils/helpers.py": "X = 1\n"}


@pytest.mark.parametrize("header", ["**main.py**", "### main.py", "File: main.py", "`main.py`:", "main.py:",
                                    "1. main.py"])
def test_header_styles(header: str) -> None:
    parsed = parse_files(f"{header}\n```python\nx = 1\n```\n")
    assert parsed.files == {"main.py": "x = 1\n"}


def test_path_in_info_string_and_in_first_line() -> None:
    assert parse_files("```python game.py\nx = 1\n```").files == {"game.py": "x = 1\n"}
    assert parse_files("```python\n# game.py\nx = 1\n```").files == {"game.py": "# game.py\nx = 1\n"}


def test_a_lone_fence_that_closes_code_no_fence_opened() -> None:
    """The 0.5B's tic-tac-toe (2026-12-06): the path, the whole file unfenced, a lone fence, then
    a paragraph; the paragraph had become game.py."""
    code = "import random\n\nboard = [0] * 9\n\n\ndef move(cell):\n    board[cell - 1] = 1\n"
    prose = "\n\nThis code defines a simple tic-tac-toe game. The board is a list of nine cells.\n"
    reply = f"game.py\n\n{code}```{prose}"
    assert parse_files(reply, expected=["game.py"]).files == {"game.py": code}
    assert parse_files(f"{code}```{prose}", expected=["game.py"]).files == {"game.py": code}
    # a fence that opens code the reply never closes is still that code
    opened = f"game.py\n```python\n{code}"
    assert parse_files(opened, expected=["game.py"]).files == {"game.py": code}
    prose_first = f"Here is the game:\n```\n{code}"
    assert parse_files(prose_first, expected=["game.py"]).files == {"game.py": code}


def test_one_block_with_a_comment_header_per_file_is_those_files() -> None:
    """The 1.5B's Roman numeral fix (2026-12-06): one block, `# main.py` on top and the whole of
    roman.py after a `# roman.py` line; main.py was written as both files."""
    main = "# main.py\nimport sys\nfrom roman import to_int\n\nprint(to_int(sys.argv[1]))\n"
    roman = "# roman.py\ndef to_int(s):\n    return len(s)\n"
    reply = f"```python\n{main}\n{roman}```\n"
    known = {"main.py": "x = 1\n", "roman.py": "y = 2\n"}
    assert parse_files(reply, known=known).files == {"main.py": main, "roman.py": roman}
    # a step that writes one file keeps only its own part
    assert parse_files(reply, expected=["main.py"]).files == {"main.py": main}
    # named on the line before, the header of a project file still splits
    named = f"main.py\n```python\nimport roman\n\n{roman}```\n"
    assert parse_files(named, known=known).files == {"main.py": "import roman\n", "roman.py": roman}


def test_a_comment_naming_a_file_in_the_middle_of_a_file_stays_a_comment() -> None:
    body = "import json\n# config.py\nSETTINGS = {}\n    # roman.py\nx = 1\n"
    assert parse_files(f"main.py\n```python\n{body}```\n", known={"main.py": ""}).files == {"main.py": body}


def test_single_unnamed_block_goes_to_the_expected_file() -> None:
    parsed = parse_files("Sure!\n```python\nimport pygame\n```", expected=["main.py"])
    assert parsed.files == {"main.py": "import pygame\n"}


def test_no_code_is_a_reason_not_an_exception() -> None:
    parsed = parse_files("I think you should use pygame.")
    assert not parsed.ok and "no fenced code block" in parsed.problems[0]


@pytest.mark.parametrize("bad", ["../evil.py", "/etc/passwd", "a/../../b.py", "C:/x.py", ".git/hooks/pre-commit",
                                 ".chatdev/state.json", "~/x.py", "a\x00b.py"])
def test_escaping_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relpath(bad)
    parsed = parse_files(f"{bad}\n```python\nx = 1\n```\n")
    assert bad not in parsed.files and not any(".." in p for p in parsed.files)


def test_nested_paths_are_normalised() -> None:
    assert safe_relpath("./src//game/main.py") == "src/game/main.py"
    assert safe_relpath("src\\game.py") == "src/game.py"
    # the project's place in the sandbox, copied from a traceback (seen on the 1.5B), is the project
    assert safe_relpath("/work/app/main.py") == "main.py" and safe_relpath("/work/app/g/x.py") == "g/x.py"
    for bad in ("/work/main.py", "/work/app/../etc/passwd", "/work/app"):
        with pytest.raises(UnsafePath):
            safe_relpath(bad)


def test_json_inside_chatter_and_fences() -> None:
    schema = {"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}
    assert parse_json('Sure: {"approved": true, "issues": []} done', schema)["approved"] is True
    assert parse_json('```json\n{"approved": false}\n```', schema)["approved"] is False


def test_json_schema_violations_explain_themselves() -> None:
    schema = {"type": "object", "required": ["files"],
              "properties": {"files": {"type": "array", "minItems": 1, "items": {"type": "object",
                                                                               "required": ["path"]}}}}
    with pytest.raises(SchemaViolation, match="missing required key 'files'"):
        parse_json("{}", schema)
    with pytest.raises(SchemaViolation, match=r"\$.files\[0\] is missing required key 'path'"):
        parse_json('{"files": [{"name": "x"}]}', schema)
    with pytest.raises(SchemaViolation, match="no JSON"):
        parse_json("no json here", schema)
    with pytest.raises(SchemaViolation, match="should be boolean"):
        parse_json('{"a": "yes"}', {"type": "object", "properties": {"a": {"type": "boolean"}}})


def test_fence_inside_a_list_item_is_dedented() -> None:
    text = "1. **food.py**:\n   ```python\n   import random\n\n   def f():\n       return 1\n   ```\n"
    assert parse_files(text).files == {"food.py": "import random\n\ndef f():\n    return 1\n"}


def test_code_that_looks_like_a_name_is_not_a_path() -> None:
    text = "unittest.main()\n```python\nimport unittest\n```\npygame.init\n```python\nx = 1\n```\n"
    parsed = parse_files(text)
    assert "unittest.main" not in parsed.files and "pygame.init" not in parsed.files
    assert parse_files("main.py (the entry point)\n```python\nx = 1\n```").files == {"main.py": "x = 1\n"}


# A fix reply that drops the path line: the shapes seen from Qwen2.5-Coder-0.5B in real builds.
PROJECT = {
    "food.py": "import random\nimport pygame\n\n\nclass Food:\n    def __init__(self):\n        self.x = 0\n\n"
               "    def draw(self):\n        pygame.draw.rect(screen, (255, 0, 0), (self.x, 0, 10, 10))\n",
    "snake.py": "class Snake:\n    def __init__(self):\n        self.body = [(0, 0)]\n",
    "main.py": "from game import Game\n\nif __name__ == '__main__':\n    Game().start()\n",
    "game.py": "from snake import Snake\nfrom food import Food\n\n\nclass Game:\n    def start(self):\n"
               "        pass\n\n\ndef helper():\n    return 1\n",
}


def test_an_unnamed_whole_file_rewrite_is_that_file() -> None:
    reply = ("To fix the issue in the `food.py` file, we need to pass the screen in. Here's the corrected code:\n\n"
             "```python\nimport random\nimport pygame\nclass Food:\n    def draw(self, screen):\n        pass\n```\n")
    parsed = parse_files(reply, known=PROJECT)
    assert parsed.files == {"food.py": "import random\nimport pygame\nclass Food:\n    def draw(self, screen):\n"
                                       "        pass\n"}


def test_an_unnamed_rewrite_is_matched_by_its_definitions_alone() -> None:
    reply = "```python\nfrom snake import Snake\n\nclass Game:\n    def start(self):\n        print('go')\n```"
    assert list(parse_files(reply, known=PROJECT).files) == ["game.py"]


def test_a_fragment_that_is_no_file_s_part_is_not_taken_for_a_file() -> None:
    loose = "```python\ngame = Game()\ngame.start()\n```"  # module code: whose? nobody can tell
    parsed = parse_files("Here is the fix for main.py's ending:\n\n" + loose, known=PROJECT)
    assert parsed.files == {} and "no file path" in parsed.problems[0]
    # the ending alone, where one file has one: it replaces that file's ending
    fragment = "```python\nif __name__ == \"__main__\":\n    game = Game()\n    game.start()\n```"
    parsed = parse_files("Here is the fix for main.py's ending:\n\n" + fragment, known=PROJECT)
    assert parsed.files == {"main.py": "from game import Game\n\nif __name__ == \"__main__\":\n"
                                       "    game = Game()\n    game.start()\n"}
    # a script with no definitions is taken only when the reply names it and the block is the whole of it
    whole = "```python\nfrom game import Game\n\nif __name__ == '__main__':\n    Game().run()\n```"
    assert list(parse_files("The corrected main.py:\n\n" + whole, known=PROJECT).files) == ["main.py"]
    # unnamed, it is still the one file's ending: spliced there, the same file
    assert parse_files(whole, known=PROJECT).files == {"main.py": "from game import Game\n\n"
                                                                  "if __name__ == '__main__':\n    Game().run()\n"}


def test_an_unnamed_block_that_fits_two_files_is_refused() -> None:
    known = {"a.py": "def f():\n    pass\n", "b.py": "def f():\n    pass\n"}
    assert parse_files("```python\ndef f():\n    return 2\n```", known=known).files == {}
    # the language must fit the file, and named blocks are never second-guessed
    assert parse_files("```bash\nclass Food:\n    pass\n```", known=PROJECT).files == {}
    named = parse_files("snake.py\n```python\nclass Food:\n    pass\n```", known=PROJECT)
    assert list(named.files) == ["snake.py"]


def test_a_reply_cut_at_its_limit_loses_only_its_open_last_block() -> None:
    text = "main.py\n```python\nprint('whole')\n```\n\ngame.py\n```python\ndef half(:\n    pri"
    parsed = parse_files(text, cut=True)
    assert parsed.files == {"main.py": "print('whole')\n"}
    # not cut: a small model that forgets the closing fence still gets its file
    assert set(parse_files(text).files) == {"main.py", "game.py"}
    only = parse_files("main.py\n```python\nimport os\nprint(os.", cut=True, expected=["main.py"])
    assert only.files == {} and "length limit" in only.problems[0]


def test_schema_max_length() -> None:
    schema = {"type": "object", "properties": {"issues": {"type": "array", "items": {"type": "string", "maxLength": 10}}}}
    assert parse_json('{"issues": ["short"]}', schema) == {"issues": ["short"]}
    with pytest.raises(SchemaViolation) as err:
        parse_json('{"issues": ["a finding that rambles on"]}', schema)
    assert "longer than 10 characters" in err.value.reason


@pytest.mark.parametrize("path", [".GIT/config", "src/.Git/hooks/pre-commit", ".ChatDev/state.json", "../x.py",
                                  "/etc/passwd", "C:/x.py", "a\x01b.py", "x" * 256 + ".py"])
def test_one_path_rule_for_replies_and_the_workspace(path: str) -> None:
    """A path a model names is refused exactly when the workspace would refuse it (and for the same reason)."""
    from chatdev.errors import WorkspaceError
    from chatdev.project.paths import clean_relpath, path_problem

    problem = path_problem(path)
    assert problem is not None
    with pytest.raises(UnsafePath):
        safe_relpath(path)
    with pytest.raises(WorkspaceError, match=problem.split(" ")[0].replace(".", r"\.")):
        clean_relpath(path)


CONVERTER = ('"""Units."""\nimport sys\n\nFACTORS = {"km": 1000}\n\n\ndef convert_length(value, a, b):\n'
             '    return value * FACTORS[a]\n\n\ndef convert_temperature(value, a, b):\n    return value * 9 / 5 + 32\n'
             '\n\ndef main():\n    print(convert_length(float(sys.argv[1]), sys.argv[2], sys.argv[3]))\n\n\n'
             'if __name__ == "__main__":\n    main()\n')


def test_a_fix_that_sends_one_function_has_it_put_in_place() -> None:
    """The 1.5B's converter fix answered with ``def convert_temperature`` alone and no path: asked again, ~55 s."""
    reply = ("The formula for Fahrenheit is wrong. Here is the corrected function:\n\n```python\nimport math\n\n"
             "def convert_temperature(value, a, b):\n    if a == 'F':\n        return (value - 32) * 5 / 9\n"
             "    return value * 9 / 5 + 32\n\n\ndef round_to(value):\n    return math.floor(value)\n```\n")
    parsed = parse_files(reply, known={"main.py": CONVERTER, "README.md": "# Units\n"})
    body = parsed.files["main.py"]
    assert list(parsed.files) == ["main.py"]
    assert body.startswith('"""Units."""\nimport sys\nimport math\n\nFACTORS = {"km": 1000}\n')
    assert "return (value - 32) * 5 / 9" in body and body.count("def convert_temperature") == 1
    assert body.index("def round_to") < body.index("def convert_temperature")  # above the first replaced one
    assert "def convert_length" in body and body.rstrip().endswith("main()")
    compile(body, "main.py", "exec")


def test_a_named_file_written_as_a_few_of_its_functions_keeps_the_rest() -> None:
    """Written as the whole file, the one function would delete the rest (a fix once removed pygame.init())."""
    from chatdev.replies.formats import FilesFormat

    fix = "main.py\n```python\ndef convert_temperature(value, a, b):\n    return (value - 32) * 5 / 9\n```\n"
    files = FilesFormat().parse(fix, known=lambda: {"main.py": CONVERTER})
    assert 'FACTORS = {"km": 1000}' in files["main.py"] and "def main():" in files["main.py"]
    assert "return (value - 32) * 5 / 9" in files["main.py"] and "9 / 5 + 32" not in files["main.py"]
    # a whole rewrite (module-level code of its own) is written as it is
    whole = "main.py\n```python\nimport sys\nprint(sys.argv)\n```\n"
    assert FilesFormat().parse(whole, known=lambda: {"main.py": CONVERTER}) == {"main.py": "import sys\nprint(sys.argv)\n"}
    # a test file sent as its one changed test keeps its other tests instead of being dropped
    tests = "def test_a():\n    assert 1\n\n\ndef test_b():\n    assert 2 == 3\n"
    sent = "tests/test_main.py\n```python\ndef test_b():\n    assert 2 == 2\n```\n"
    kept = FilesFormat().parse(sent, known=lambda: {"main.py": CONVERTER, "tests/test_main.py": tests})
    assert kept == {"tests/test_main.py": "def test_a():\n    assert 1\n\n\ndef test_b():\n    assert 2 == 2\n"}


def test_a_fix_that_leaves_a_body_as_a_comment_keeps_that_body() -> None:
    """The 1.5B's Tkinter calculator fix (2026-12-07): ``def __init__(self, root):`` with only
    ``# ... (other code remains the same)`` under it, and one changed method. Written as it was, the
    file did not parse; the changed method is put in place and the rest stays."""
    from chatdev.replies.formats import FilesFormat

    whole = ("import tkinter as tk\n\n\nclass Calculator:\n    def __init__(self, root):\n        self.root = root\n"
             "        self.entry = tk.Entry(root)\n\n    def evaluate(self, text):\n        return int(text)\n\n"
             "    def clear(self):\n        self.entry.delete(0, tk.END)\n\n\n"
             "if __name__ == \"__main__\":\n    Calculator(tk.Tk())\n")
    fix = ("main.py\n```python\nimport ast\n\nclass Calculator:\n    def __init__(self, root):\n"
           "        # ... (other code remains the same)\n\n    def evaluate(self, text):\n        return eval(text)\n\n"
           "    # ... (other code remains the same)\n```\n")
    got = FilesFormat().parse(fix, known=lambda: {"main.py": whole})["main.py"]
    assert got == whole.replace("return int(text)", "return eval(text)").replace("import tkinter as tk\n",
                                                                                 "import tkinter as tk\nimport ast\n")
    # a block that parses, or that a body of `...` would not make parse, is left as it is
    from chatdev.replies.splice import unelided

    assert unelided("def f():\n    # todo\n    return 1\n") == "def f():\n    # todo\n    return 1\n"
    assert unelided("def f(:\n    # x\n") == "def f(:\n    # x\n"
    assert unelided("def f():\n    # x\ndef g():\n    pass\n") == "def f():\n    ...\n    # x\ndef g():\n    pass\n"


def test_splice_keeps_decorators_and_refuses_what_it_cannot_place() -> None:
    from chatdev.replies.splice import splice

    whole = "import functools\n\n\n@functools.cache\ndef f(n):\n    return n\n"
    assert splice("def f(n):\n    return n + 1\n", whole) == ("import functools\n\n\n@functools.cache\n"
                                                            "def f(n):\n    return n + 1\n")
    assert splice("def g():\n    pass\n", whole) is None  # names nothing of the file
    assert splice("def f(:\n", whole) is None and splice("X = 2\ndef f():\n    pass\n", whole) is None
    assert splice('if __name__ == "__main__":\n    f(1)\n', whole) is None  # the file has no ending to replace


SNAKE = ("import pygame\n\npygame.init()\nW = 800\n\n\ndef step(x):\n    return x + 1\n\n\ndef draw():\n    pass\n\n\n"
         "def main():\n    x = 0\n    while True:\n        x = step(x)\n        draw()\n\n\n"
         "if __name__ == '__main__':\n    main()\n")


def test_a_fix_cut_at_its_limit_inside_a_file_keeps_what_it_rewrote() -> None:
    """The 1.5B snake's code_fix rewrote the 128-line main.py and met its 1400-token limit, three 135 s calls a cycle."""
    from chatdev.replies.formats import FilesFormat

    cut = ("main.py\n```python\nimport pygame\n\npygame.init()\nW = 800\n\n\ndef step(x):\n    return x + 2\n\n\n"
           "def draw():\n    pygame.display.flip()\n\n\ndef main():\n    x = 0\n    while Tr")
    files = FilesFormat().parse(cut, known=lambda: {"main.py": SNAKE}, cut=True)
    body = files["main.py"]
    assert "return x + 2" in body and "pygame.display.flip()" in body  # what it rewrote before the cut
    assert body.count("def main():") == 1 and "        x = step(x)\n" in body  # the rest as it was
    assert body.rstrip().endswith("main()") and body.count("pygame.init()") == 1
    compile(body, "main.py", "exec")
    # cut inside the first function: nothing whole to keep, so it is asked again, for the functions only
    with pytest.raises(SchemaViolation, match="send only the functions and classes you change"):
        FilesFormat().parse("main.py\n```python\nimport pygame\n\npygame.ini", known=lambda: {"main.py": SNAKE},
                            cut=True)


def test_salvage_does_not_bring_back_what_the_rewrite_already_has() -> None:
    from chatdev.replies.splice import salvage

    reordered = "import pygame\n\n\ndef main():\n    draw()\n\n\ndef step(x):\n    return x\n\n\ndef dr"
    body = salvage(reordered, SNAKE)
    assert body is not None and body.count("def main():") == 1 and body.count("def step(") == 1
    assert "def draw():" in body and "pygame.init()" not in body.split("def main")[0][20:]
    assert salvage("x = (", SNAKE) is None and salvage("def other():\n    pass\n\n\ndef z", SNAKE) is None


def test_a_test_file_cut_inside_a_test_keeps_the_tests_it_finished() -> None:
    """The 1.5B's primes tester met its 700-token limit at ``    assert is``: the file did not parse."""
    from chatdev.replies.splice import cut_tests

    cut = ("from main import is_prime\n\n\ndef test_small():\n    assert is_prime(2)\n    assert not is_prime(4)\n\n\n"
           "def test_big():\n    assert is_prime(97)\n    assert is")
    kept = cut_tests(cut)
    assert kept is not None and kept.endswith("    assert is_prime(97)\n")
    compile(kept, "tests/test_main.py", "exec")
    assert cut_tests("def test_x():\n    assert True\n") is None  # no test is whole without its last line
    # the cut line parses, and says the opposite of what the tester was writing (`... == False`)
    kept = "from main import is_prime\n\n\ndef test_is_prime():\n    assert is_prime(71) == True\n"
    assert cut_tests(kept + "    assert is_prime(72)") == kept
    assert cut_tests("from main import is_prime\n\n\ndef test_small():\n    assert is") is None  # no test whole


GAME_CLASSES = ("import pygame\n\n\nclass Snake:\n    def __init__(self):\n        self.body = [(1, 1)]\n\n"
                "    def move(self):\n        self.body.insert(0, self.body[0])\n\n\n"
                "class Game:\n    def __init__(self):\n        self.snake = Snake()\n\n    def run(self):\n"
                "        self.snake.draw()\n\n\nif __name__ == '__main__':\n    pygame.init()\n    Game().run()\n")


def test_a_class_sent_with_one_new_method_keeps_the_methods_it_left_out() -> None:
    """Told "add a `draw` method to class Snake", a fix sends `class Snake:` with `draw` alone."""
    from chatdev.replies.plans import map_fix_paths

    block = "class Snake:\n    def draw(self, screen=None):\n        print(self.body)\n"
    files = map_fix_paths({"main.py": block}, {"main.py": GAME_CLASSES}, block)
    body = files["main.py"]
    compile(body, "main.py", "exec")
    assert "def move(self):" in body and "def draw(self, screen=None):" in body
    assert body.index("def draw") < body.index("class Game")  # inside Snake, at its end
    assert "self.body = [(1, 1)]" in body and "pygame.init()" in body


def test_a_method_sent_without_its_class_replaces_that_method_and_a_placeholder_replaces_nothing() -> None:
    from chatdev.replies.splice import splice

    body = splice("def run(self):\n    self.snake.move()\n", GAME_CLASSES)
    assert body is not None and "    def run(self):\n        self.snake.move()\n" in body
    assert "self.snake.draw()" not in body and body.count("def run") == 1
    compile(body, "main.py", "exec")
    stubbed = splice("class Snake:\n    def move(self):\n        ...\n\n    def grow(self):\n        self.body.append(0)\n",
                     GAME_CLASSES)
    assert stubbed is not None and "self.body.insert(0, self.body[0])" in stubbed  # `...` did not replace move
    assert "def grow(self):" in stubbed
    assert splice("def run():\n    pass\n", GAME_CLASSES) is None  # no `self`: not a method, names nothing


def test_a_first_line_that_is_the_path_in_brackets_is_dropped_when_only_that_makes_the_file_parse() -> None:
    """The 0.5B's snake (2026-12-06) began main.py's block with ``(main.py``, after the example's
    ``(every line of main.py)``: a SyntaxError the fixes never reached."""
    code = "import pygame\n\npygame.init()\n"
    assert parse_files(f"```python\n(main.py\n{code}```", expected=["main.py"]).files == {"main.py": code}
    assert parse_files(f"main.py\n```python\nmain.py\n{code}```", expected=["main.py"]).files == {"main.py": code}
    kept = "# main.py\nimport pygame\n"  # a comment line is code
    assert parse_files(f"```python\n{kept}```", expected=["main.py"]).files == {"main.py": kept}
    broken = "(main.py\ndef f(:\n"  # the rest does not parse either: the file as it came, for the fixes
    assert parse_files(f"```python\n{broken}```", expected=["main.py"]).files == {"main.py": broken}
