"""Silent sounds and blank images for the files a program loads and nobody wrote, without a model.

The 1.5B's games load ``eat.wav`` or ``background_music.mp3`` that no role can write (a model
writes text), and die at start: seen in three benches of the snake (2026-12-02/03), where the
fixer, told "play no sound files", rewrote the game four times and never took the line out.
A stand-in file is what a person would drop in to see the game run: a tenth of a second of
silence, or a 32x32 grey picture. It is committed under its own name ("Add stand-ins ..."), so
the user sees it and can replace it with the real sound or picture.

Stand-ins are bytes the loaders accept whatever the name says: silent MPEG frames for a
``.mp3`` (SDL_mixer goes by the extension there), a WAV for other sounds (``Sound()`` reads the
content), a PNG for every image (SDL_image, Tk and Pillow read the content). Music in another
format (``music.load("x.ogg")``) gets none: SDL_mixer trusts the extension and a WAV would not
play, so the static error stays for the fixer. Fonts get none either.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from collections.abc import Mapping
from pathlib import PurePosixPath

from chatdev.checks.assets import missing_files

SOUNDS = {("mixer", "Sound"), ("music", "load")}
IMAGES = {("image", "load"), ("PhotoImage",), ("Image", "open")}
IMAGE_SIZE = 32


def silent_wav(seconds: float = 0.1, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def silent_mp3(frames: int = 20) -> bytes:
    """MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz) whose side information is all zero: silence."""
    return (b"\xff\xfb\x90\x64" + b"\0" * 413) * frames


def grey_png(size: int = IMAGE_SIZE) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\0" + b"\x80\x80\x80" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def stand_ins(sources: Mapping[str, str], *, known: set[str]) -> dict[str, bytes]:
    """Relative path -> bytes for each sound or image the program loads that the project lacks."""
    out: dict[str, bytes] = {}
    for item in missing_files(sources, known=known):
        name = PurePosixPath(item.name)
        if name.is_absolute() or ".." in name.parts or not name.suffix:
            continue
        ext = name.suffix.lower()
        if item.loader in SOUNDS:
            if ext == ".mp3":
                data = silent_mp3()
            elif item.loader == ("music", "load") and ext != ".wav":
                continue
            else:
                data = silent_wav()
        elif item.loader in IMAGES:
            data = grey_png()
        else:
            continue
        out[name.as_posix()] = data
    return out
