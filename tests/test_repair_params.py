"""A function that uses a variable its callers hold gets it as a parameter (chatdev/repair/params.py).

The program is the 1.5B's tic-tac-toe (2026-12-07), cut down: ``main()`` holds the board and
passes it to ``is_valid_move(board, move)``, but ``get_player_input(player)`` reads ``board``
too; two code_fix cycles sent the function back unchanged, and the game died of a NameError at
the first move.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatdev.repair.params import pass_locals

UTILS = '''def create_board():
    return [" " for _ in range(9)]


def get_player_input(player):
    while True:
        move = int(input(f"Player {player}, cell (1-9): "))
        if 1 <= move <= 9 and board[move - 1] == " ":
            return move
        print("Taken.")


def is_valid_move(board, move):
    return board[move - 1] == " "
'''
GAME = '''import utils


def main():
    board = utils.create_board()
    player = "X"
    for _ in range(3):
        move = utils.get_player_input(player)
        if utils.is_valid_move(board, move):
            board[move - 1] = player
            print("".join(board).replace(" ", "."))
            player = "O" if player == "X" else "X"


if __name__ == "__main__":
    main()
'''
UNDEFINED = "utils.py:8:33: undefined name 'board'\n"


def test_the_callers_board_is_passed_to_the_function_that_reads_it() -> None:
    passed = pass_locals({"main.py": GAME, "utils.py": UTILS}, UNDEFINED)
    assert passed is not None and passed.functions == ("utils.py:get_player_input(board)",)
    assert passed.files["utils.py"] == UTILS.replace("def get_player_input(player):",
                                                     "def get_player_input(player, board):")
    assert passed.files["main.py"] == GAME.replace("utils.get_player_input(player)",
                                                   "utils.get_player_input(player, board)")


def test_the_repaired_game_takes_its_moves(tmp_path: Path) -> None:
    passed = pass_locals({"main.py": GAME, "utils.py": UTILS}, UNDEFINED)
    assert passed is not None
    for path, text in {"main.py": GAME, "utils.py": UTILS, **passed.files}.items():
        (tmp_path / path).write_text(text)
    done = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, input="5\n5\n1\n9\n", capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "....X...." in done.stdout and "Taken." in done.stdout and "O...X...." in done.stdout


@pytest.mark.parametrize("sources, why", [
    ({"main.py": GAME.replace("    board = utils.create_board()\n", ""), "utils.py": UTILS},
     "a caller that does not hold the variable"),
    ({"main.py": GAME + "\nutils.get_player_input('X')\n", "utils.py": UTILS}, "a call at module level"),
    ({"main.py": GAME, "utils.py": UTILS.replace("(player):", "(player, tries=3):")}, "a parameter with a default"),
    ({"main.py": GAME, "utils.py": UTILS.replace("def create_board", "board = []\n\n\ndef create_board")},
     "the module binds the name itself"),
    ({"main.py": "import utils\n", "utils.py": UTILS.replace("def is_valid_move(board, move)", "def is_valid_move(b, move)")
      .replace("return board[move - 1]", "return b[move - 1]")}, "no call and no function that takes it"),
])
def test_nothing_is_guessed(sources: dict[str, str], why: str) -> None:
    assert pass_locals(sources, UNDEFINED) is None, why


def test_a_name_python_has_or_an_error_of_another_kind_is_left_alone() -> None:
    assert pass_locals({"main.py": GAME, "utils.py": UTILS}, "utils.py:8:33: undefined name 'print'\n") is None
    assert pass_locals({"main.py": GAME, "utils.py": UTILS}, "utils.py:8:33: 'os' imported but unused\n") is None


@pytest.mark.docker
def test_the_company_passes_the_board_and_the_static_check_is_clean(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: pyflakes names the undefined board, the fixes send main.py back as it was,
    so only the repair can help, and the check after it decides."""
    from tests.scripted_company import build_scripted, stubborn_program

    summary, notices = build_scripted(tmp_path, stubborn_program({"main.py": GAME, "utils.py": UTILS},
                                                                 summary="A tic-tac-toe game."),
                                      "a tic-tac-toe game in the terminal; players type a cell number")
    project = Path(summary.project)
    assert "def get_player_input(player, board):" in (project / "utils.py").read_text()
    assert "utils.get_player_input(player, board)" in (project / "main.py").read_text()
    assert any("passed the callers' variables to the functions that use them: utils.py:get_player_input(board)"
               in n for n in notices), notices
    assert summary.runs is True, summary
