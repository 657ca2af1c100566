"""The runner image: what it is made of, whether it is current, how to build it.

``chatdev sandbox build`` builds ``chatdev-runner:<version>`` from
``chatdev/sandbox/runner/Dockerfile`` on an official slim Python base (needs a registry);
``--bootstrap`` first makes a Debian bookworm base with debootstrap and
``docker import`` (no registry: air-gapped machines). An image is *current* when its
digest label matches the runner files; a current image is reused unless ``force``.

This module never imports ``docker``: :mod:`chatdev.sandbox.container` hands it a client.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from chatdev import __version__
from chatdev.errors import SandboxError
from chatdev.events import EventSink, Notice, Progress, null_sink

RUNNER_DIR = Path(__file__).parent / "runner"
RUNNER_FILES = ("Dockerfile", "packages.txt", "supervisor.py", "probe.py", "chatdev_fresh.py")
IMAGE_REPO = "chatdev-runner"
BASE_REPO = "chatdev-base"
DIGEST_LABEL = "org.chatdev.runner.digest"
BASE_LABEL = "org.chatdev.runner.base"
DEFAULT_BASE = "python:3.11-slim-bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
BUILD_HINT = "build it: chatdev sandbox build --bootstrap (no registry needed) or chatdev sandbox build"


def image_tag() -> str:
    """The runner image this chatdev uses (``CHATDEV_RUNNER_IMAGE`` overrides)."""
    return os.environ.get("CHATDEV_RUNNER_IMAGE") or f"{IMAGE_REPO}:{__version__}"


def packages() -> list[str]:
    """The Debian packages of the image (``runner/packages.txt``)."""
    text = (RUNNER_DIR / "packages.txt").read_text()
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


def digest(directory: Path = RUNNER_DIR) -> str:
    """A hash of the runner files: an image with another digest is outdated."""
    h = hashlib.sha256()
    for name in RUNNER_FILES:
        h.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_state(client: Any, tag: str) -> tuple[bool, bool]:
    """(present, current) for the image ``tag``."""
    try:
        image = client.images.get(tag)
    except Exception as exc:  # docker.errors.ImageNotFound: this module does not import docker
        if type(exc).__name__ in ("ImageNotFound", "NotFound"):
            return False, False
        raise
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return True, labels.get(DIGEST_LABEL) == digest()


def debian_mirror() -> str:
    """The Debian mirror apt uses here (``CHATDEV_DEBIAN_MIRROR`` overrides)."""
    if os.environ.get("CHATDEV_DEBIAN_MIRROR"):
        return os.environ["CHATDEV_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in re.findall(r"(?:URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, flags=re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def bootstrap_base(client: Any, *, force: bool = False, sink: EventSink = null_sink) -> str:
    """A Debian base image holding every runner package, made with debootstrap + docker import."""
    pkgs = packages()
    tag = f"{BASE_REPO}:{SUITE}-{hashlib.sha256(' '.join(pkgs).encode()).hexdigest()[:12]}"
    if not force and image_state(client, tag)[0]:
        sink(Notice(level="info", text=f"reusing the base image {tag}"))
        return tag
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed", hint="Debian/Ubuntu: sudo apt-get install debootstrap")
    if os.geteuid() != 0:
        raise SandboxError("debootstrap needs root", hint="run: sudo chatdev sandbox build --bootstrap")
    mirror = debian_mirror()
    sink(Notice(level="info", text=f"bootstrapping Debian {SUITE} with {len(pkgs)} packages from {mirror} "
                                   "(about 2 minutes)"))
    with tempfile.TemporaryDirectory(prefix="chatdev-bootstrap-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(pkgs)}", SUITE, str(root), mirror]
        lines: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip())
                if line.startswith("I: "):
                    sink(Progress(task="debootstrap", done=len(lines), total=None, unit="lines"))
        if proc.returncode != 0:
            last = next((x for x in reversed(lines) if x.strip()), "no output")
            raise SandboxError(f"debootstrap failed: {last}", hint=f"is {mirror} reachable? set CHATDEV_DEBIAN_MIRROR")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
        sink(Notice(level="info", text=f"importing the base image {tag}"))
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repo, tag=version)
    return tag


def prune_bases(client: Any, keep: str) -> None:
    """Remove debootstrap bases made for another package list (still in use: left alone)."""
    for old in client.images.list(name=BASE_REPO):
        if keep not in old.tags:
            try:
                client.images.remove(old.id)
            except Exception:  # noqa: BLE001, S110 - under an image or a container still: leave it
                pass


def build(client: Any, *, bootstrap: bool, force: bool = False, base: str | None = None,
          sink: EventSink = null_sink) -> str:
    """Build (or reuse) the runner image and return its tag."""
    tag = image_tag()
    present, current = image_state(client, tag)
    if present and current and not force:
        sink(Notice(level="info", text=f"{tag} is current; reusing it (--force rebuilds)"))
        return tag
    old_id = client.images.get(tag).id if present else None
    if base is None:
        base = bootstrap_base(client, force=False, sink=sink) if bootstrap else DEFAULT_BASE
    sink(Notice(level="info", text=f"building {tag} on {base}"))
    with tempfile.TemporaryDirectory(prefix="chatdev-runner-") as ctx:
        for name in RUNNER_FILES:
            shutil.copy(RUNNER_DIR / name, Path(ctx) / name)
        want = digest(Path(ctx))
        stream = client.api.build(path=ctx, tag=tag, buildargs={"BASE": base}, rm=True, forcerm=True,
                                  decode=True, labels={DIGEST_LABEL: want, BASE_LABEL: base},
                                  network_mode="none" if bootstrap else None)
        for chunk in stream:
            if "error" in chunk:
                message = str(chunk["error"]).strip().splitlines()[-1]
                hint = ("no registry reachable? build without one: chatdev sandbox build --bootstrap"
                        if not bootstrap else "see the message above; --force rebuilds the base")
                raise SandboxError(f"building {tag} failed: {message}", hint=hint)
            step = re.match(r"Step (\d+)/(\d+)", str(chunk.get("stream", "")))
            if step:
                sink(Progress(task=f"build {tag}", done=float(step[1]), total=float(step[2]), unit="steps"))
    new_id = client.images.get(tag).id
    if old_id and old_id != new_id:
        try:
            if not client.images.get(old_id).tags:  # another tag's image (CHATDEV_RUNNER_IMAGE, a version) stays
                client.images.remove(old_id)
        except Exception:  # noqa: BLE001, S110 - still used by a container: leave it
            pass
    if base.startswith(f"{BASE_REPO}:"):
        prune_bases(client, keep=base)
    sink(Notice(level="info", text=f"built {tag}"))
    return tag
