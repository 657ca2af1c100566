"""Files a program loads that its project does not have: a sound, an image, a font by name.

A small model writes ``pygame.mixer.Sound("eat.wav")`` or ``pygame.image.load("snake.png")``
at the top of a game, and nobody ever writes those files: the program dies at start, often
with a message that points elsewhere (``pygame.error: mixer not initialized``), and the fixer
chases that. This check reads each program file (not the tests) and reports every literal
file name handed to a loader that is neither in the project nor created by the program,
in pyflakes' ``path:line:col: message`` form, so it lands among the static errors: the review
loop sees it before anything runs, and the fix is told what to do instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

# the last parts of a call's name -> which argument holds the file (position, keyword)
LOADERS: dict[tuple[str, ...], tuple[int, str]] = {
    ("mixer", "Sound"): (0, "file"),
    ("music", "load"): (0, "filename"),
    ("image", "load"): (0, "filename"),
    ("font", "Font"): (0, "file"),  # pygame.font.Font(None, 36) is the default font: fine
    ("PhotoImage",): (-1, "file"),  # tkinter.PhotoImage(file="x.png"): keyword only
    ("Image", "open"): (0, "fp"),   # PIL
}
WHAT = "draw it with shapes, use pygame.font.Font(None, size) for text, and play no sound files"


def _name_parts(func: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return tuple(reversed(parts))


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound once to a string (``BACKGROUND_MUSIC = "background_music.mp3"``)."""
    seen: dict[str, list[str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value.value if isinstance(node.value, ast.Constant) and isinstance(
                node.value.value, str) else None
            for target in targets:
                if isinstance(target, ast.Name):
                    seen.setdefault(target.id, []).append(value if node in tree.body else None)
    return {name: values[0] for name, values in seen.items() if len(values) == 1 and values[0]}


def _literal_file(call: ast.Call, constants: Mapping[str, str] | None = None) -> str | None:
    parts = _name_parts(call.func)
    for tail, (position, keyword) in LOADERS.items():
        if parts[-len(tail):] != tail:
            continue
        if 0 <= position < len(call.args):
            arg: ast.expr | None = call.args[position]
        else:
            arg = next((k.value for k in call.keywords if k.arg == keyword), None)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
            return arg.value
        if isinstance(arg, ast.Name) and constants and arg.id in constants:  # a constant holding the name
            return constants[arg.id]
        return None
    return None


def _written_names(tree: ast.AST) -> set[str]:
    """String literals the program writes to (``open(x, "w")``, ``.save(x)``): files it makes itself."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts = _name_parts(node.func)
        args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if parts[-1:] == ("open",) and len(args) >= 2 and any(m in args[1] for m in "wax"):
            out.add(args[0])
        elif parts[-1:] in (("save",), ("write_bytes",), ("write_text",)) and args:
            out.add(args[0])
    return out


@dataclass(frozen=True)
class Missing:
    """One load of a file the project does not have."""

    path: str  # the program file
    line: int
    col: int
    name: str  # the file name it loads
    loader: tuple[str, ...]  # the loader's last name parts: ("music", "load")

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}:{self.col}: loads '{self.name}', which the project does not have: "
                f"{WHAT}")


def missing(sources: Mapping[str, str], *, known: set[str] | None = None) -> list[str]:
    """``path:line:col: loads 'x', which the project does not have: ...`` for each program file.

    ``sources``: the program's files (relative path -> text; test files are skipped by the
    caller). ``known``: every file of the project, relative paths (data, images, sounds).
    """
    return [str(m) for m in missing_files(sources, known=known)]


def missing_files(sources: Mapping[str, str], *, known: set[str] | None = None) -> list[Missing]:
    """Each load of a file that is neither in the project nor made by the program."""
    have = {PurePosixPath(p).as_posix() for p in (known if known is not None else set(sources))}
    found: list[Missing] = []
    for path, text in sorted(sources.items()):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue  # pyflakes reports it
        made = _written_names(tree)
        constants = _constants(tree)
        here = PurePosixPath(path).parent
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _literal_file(node, constants)
            if name is None or name in made or PurePosixPath(name).is_absolute():
                continue
            candidates = {PurePosixPath(name).as_posix(), (here / name).as_posix()}
            if candidates & have:
                continue
            parts = _name_parts(node.func)
            loader = next(tail for tail in LOADERS if parts[-len(tail):] == tail)
            found.append(Missing(path, node.lineno, node.col_offset + 1, name, loader))
    return found


_FILE_NAME = re.compile(r"[\w.-]+(?:/[\w.-]+)*\.[A-Za-z0-9]{1,5}")


def named_files(trees: Mapping[str, ast.Module]) -> set[str]:
    """The relative file names a program's code (``bindings.parse_sources``) spells as string
    literals (``"words.txt"``, ``"data/levels.json"``): the files it may open, whoever is meant to
    write them."""
    return {node.value.removeprefix("./") for tree in trees.values() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _FILE_NAME.fullmatch(node.value)}

