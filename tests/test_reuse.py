"""The program's run kept while its files do not change (``chatdev/sandbox/reuse.py``): the key and its bound."""

from __future__ import annotations

from pathlib import Path

from chatdev.sandbox.reuse import RunMemo


def key(root: Path, **settings: object) -> str:
    files = [p for p in root.rglob("*") if p.is_file() and "tests" not in p.relative_to(root).parts]
    base = {"entry": "main.py", "timeout": 15.0, "gui": None, "args": [[]], "image": "chatdev-runner:1"}
    return RunMemo.key(root, files, **{**base, **settings})  # type: ignore[arg-type]


def test_the_key_is_the_programs_files_and_its_runs_settings(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print(1)\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_main.py").write_text("def test(): pass\n")
    first = key(tmp_path)
    (tmp_path / "tests" / "test_main.py").write_text("def test(): assert 0\n")
    assert key(tmp_path) == first  # the files handed to it are the program's: tests are left out by the caller
    assert key(tmp_path, args=[["3"]]) != first and key(tmp_path, timeout=10.0) != first
    assert key(tmp_path, image="chatdev-runner:2") != first and key(tmp_path, entry="game.py") != first
    (tmp_path / "words.txt").write_text("apple\n")
    assert key(tmp_path) != first  # a data file the program reads is part of it
    (tmp_path / "words.txt").unlink()
    (tmp_path / "main.py").write_text("print(2)\n")
    assert key(tmp_path) != first


def test_the_memo_keeps_the_latest_runs() -> None:
    memo = RunMemo(size=2)
    for name in ("a", "b", "c"):
        memo.put(name, {"stdout": name})
    assert memo.get("a") is None and memo.get("b") == {"stdout": "b"} and memo.get("c") == {"stdout": "c"}
    memo.get("b")  # used: kept before c
    memo.put("d", {"stdout": "d"})
    assert memo.get("c") is None and memo.get("b") is not None
