"""Stand-ins for the sounds and images a program loads and nobody wrote (repair/assets.py)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from chatdev.checks.assets import missing
from chatdev.repair.assets import stand_ins

GAME = """import pygame

BACKGROUND_MUSIC = "background_music.mp3"
pygame.init()
screen = pygame.display.set_mode((200, 200))
pygame.mixer.music.load(BACKGROUND_MUSIC)
pygame.mixer.music.play(-1)
eat = pygame.mixer.Sound("sounds/eat.wav")
apple = pygame.image.load("apple.png")
theme = "theme.ogg"
font = pygame.font.Font("arial.ttf", 20)
clock = pygame.time.Clock()
while True:
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            raise SystemExit
    screen.blit(apple, (10, 10))
    pygame.display.flip()
    clock.tick(30)
"""


def test_each_missing_sound_and_image_gets_a_stand_in_a_font_does_not() -> None:
    made = stand_ins({"main.py": GAME}, known={"main.py"})
    assert sorted(made) == ["apple.png", "background_music.mp3", "sounds/eat.wav"]
    assert made["apple.png"].startswith(b"\x89PNG") and made["background_music.mp3"].startswith(b"\xff\xfb")
    with wave.open(io.BytesIO(made["sounds/eat.wav"])) as w:
        assert w.getnframes() > 0 and w.readframes(10) == b"\0" * 20
    # what the project has, or the program writes itself, needs none; music the extension cannot fake neither
    assert stand_ins({"main.py": GAME}, known={"main.py", "apple.png", "background_music.mp3", "sounds/eat.wav"}) == {}
    assert stand_ins({"main.py": "import pygame\npygame.mixer.music.load('theme.ogg')\n"}, known={"main.py"}) == {}
    assert stand_ins({"main.py": "import pygame\npygame.mixer.Sound('../x.wav')\n"}, known={"main.py"}) == {}


@pytest.mark.docker
def test_with_its_stand_ins_the_game_runs_in_the_sandbox(sandbox_ready: None, tmp_path: Path) -> None:
    """The 1.5B snake died at `pygame.mixer.music.load(BACKGROUND_MUSIC)` in two benches."""
    from chatdev.sandbox import container

    (tmp_path / "main.py").write_text(GAME.replace('font = pygame.font.Font("arial.ttf", 20)\n', ""))
    before = container.verify_program(tmp_path, timeout=3, tests=False)
    assert before.runs is False and "background_music.mp3" in before.summary
    for rel, data in stand_ins({"main.py": (tmp_path / "main.py").read_text()}, known={"main.py"}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    after = container.verify_program(tmp_path, timeout=3, tests=False)
    assert after.runs is True and after.static_ok, after.summary
    assert missing({"main.py": (tmp_path / "main.py").read_text()}, known={
        "main.py", "apple.png", "background_music.mp3", "sounds/eat.wav"}) == []


@pytest.mark.docker
def test_the_static_check_adds_the_stand_ins_and_commits_them(tmp_path: Path, sandbox_ready: None) -> None:
    """The whole path: the review loop's check finds the missing music, writes a stand-in, commits it."""
    import subprocess

    from chatdev import events
    from chatdev.run import engine
    from tests.scripted_company import company_models, one_file_program, scripted

    game = GAME.replace('font = pygame.font.Font("arial.ttf", 20)\n', "")
    company = one_file_program(game, summary="A game.", run="python main.py")

    summary = engine.build(engine.BuildOptions(task="a game with music", out=tmp_path), sink=events.Recorder(),
                           models=company_models(scripted(company)))
    project = Path(summary.project)
    assert (project / "background_music.mp3").read_bytes().startswith(b"\xff\xfb")
    assert (project / "sounds" / "eat.wav").is_file() and (project / "apple.png").is_file()
    assert summary.runs is True, summary
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert ("Programmer|[static_check] Repair apple.png, background_music.mp3, sounds/eat.wav without a model "
            "(imports, stand-in sounds") in log
