"""Files a program loads that its project does not have (chatdev/checks/assets.py)."""

from __future__ import annotations

from chatdev.checks import assets

SNAKE = '''import pygame
import tkinter as tk
from PIL import Image
SOUND_EAT = pygame.mixer.Sound('eat.wav')
pygame.mixer.music.load(filename="music.mp3")
FONT = pygame.font.Font(None, 36)
HEAD = pygame.image.load("img/head.png")
LOGO = tk.PhotoImage(file="logo.gif")
PIC = Image.open("pic.jpg")
with open("scores.txt", "w") as f:
    f.write("0")
pygame.image.load("scores.txt")
'''


def test_every_loaded_file_the_project_lacks_is_one_static_error() -> None:
    lines = assets.missing({"main.py": SNAKE}, known={"main.py", "img/head.png"})
    assert [ln.split(": ", 1)[0] for ln in lines] == ["main.py:4:13", "main.py:5:1", "main.py:8:8", "main.py:9:7"]
    assert lines[0] == ("main.py:4:13: loads 'eat.wav', which the project does not have: draw it with shapes, "
                        "use pygame.font.Font(None, size) for text, and play no sound files")
    assert all("head.png" not in ln and "scores.txt" not in ln for ln in lines)  # present, or written by the program


def test_paths_are_read_from_the_file_that_loads_them_and_broken_files_are_left_to_pyflakes() -> None:
    src = {"game/sprites.py": "import pygame\nA = pygame.image.load('a.png')\n", "bad.py": "def (:\n"}
    assert assets.missing(src, known={"game/sprites.py", "game/a.png", "bad.py"}) == []
    assert assets.missing(src, known={"game/sprites.py", "bad.py"})[0].startswith("game/sprites.py:2:5: loads 'a.png'")
    assert assets.missing({"main.py": "import pygame\nf = pygame.font.Font(name, 3)\n"}) == []  # not a literal


def test_a_name_held_in_a_module_constant_counts_like_a_literal() -> None:
    """The 1.5B snake: BACKGROUND_MUSIC = "background_music.mp3", then mixer.music.load(BACKGROUND_MUSIC)."""
    src = ("import pygame\nBACKGROUND_MUSIC = 'background_music.mp3'\nWHO = 'x'\nWHO = 'y'\n\n\ndef play(path):\n"
           "    local = 'inner.wav'\n    pygame.mixer.Sound(local)\n    pygame.mixer.Sound(WHO)\n\n\n"
           "pygame.mixer.music.load(BACKGROUND_MUSIC)\n")
    lines = assets.missing({"main.py": src})
    assert lines == ["main.py:13:1: loads 'background_music.mp3', which the project does not have: draw it with "
                     "shapes, use pygame.font.Font(None, size) for text, and play no sound files"]
