"""What the sandbox's runner image holds, read from its one list (``runner/packages.txt``).

Import repair (which names are modules), the failure hints ("use only what the
sandbox has"), the plan check (a file named after one of these modules shadows it),
``requirements.txt`` (pip names) and the CTO's persona all read it here, so adding
a package to the image is one line in one file.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGES_FILE = Path(__file__).parent / "runner" / "packages.txt"
# Modules the standard library has but Debian ships apart; the image has them (python3-tk).
STDLIB_EXTRA = frozenset({"tkinter", "turtle", "curses"})
# import name -> pip name for modules the image does NOT have (for --allow-install and
# requirements.txt); the image's own modules take theirs from packages.txt.
PIP_NAMES = {"cv2": "opencv-python-headless", "sklearn": "scikit-learn", "bs4": "beautifulsoup4",
             "skimage": "scikit-image", "dotenv": "python-dotenv", "serial": "pyserial", "Crypto": "pycryptodome",
             "attr": "attrs", "jwt": "pyjwt", "magic": "python-magic", "docx": "python-docx",
             "pptx": "python-pptx", "matplotlib": "matplotlib", "pandas": "pandas"}


@dataclass(frozen=True)
class Package:
    debian: str
    module: str | None = None
    pip: str | None = None


@functools.cache
def packages(path: Path = PACKAGES_FILE) -> tuple[Package, ...]:
    out: list[Package] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, *fields = line.split()
        attrs = dict(f.split("=", 1) for f in fields if "=" in f)
        out.append(Package(debian=name, module=attrs.get("module"), pip=attrs.get("pip")))
    return tuple(out)


def image_modules() -> frozenset[str]:
    """Importable top-level modules the image adds to the standard library (pygame, numpy, ...)."""
    return frozenset(p.module for p in packages() if p.module) | STDLIB_EXTRA


def pip_name(module: str) -> str:
    """The PyPI name of an import name (``PIL`` -> ``pillow``); the module name when unknown."""
    for p in packages():
        if p.module == module and p.pip:
            return p.pip
    return PIP_NAMES.get(module, module)


def has_module(name: str) -> bool:
    """Whether ``import name`` works in the sandbox without installing anything."""
    return name in sys.stdlib_module_names or name in image_modules()


def module_for_pip(name: str) -> str | None:
    """The import name of an image package named by its PyPI name (``pyyaml`` -> ``yaml``), if it differs."""
    for p in packages():
        if p.pip and p.module and p.pip.lower() == name.lower() and p.module != name:
            return p.module
    return None


def describe() -> str:
    """One line for prompts and hints: what a program may import (import names first: that is what it types)."""
    pretty = [f"{p.module} (from {p.pip})" if p.pip and p.pip.lower() != (p.module or "").lower() else str(p.module)
              for p in packages() if p.module and p.module not in STDLIB_EXTRA]
    return "the standard library (tkinter and curses included), " + ", ".join(pretty)
