"""Hugging Face files through ``huggingface_hub``, in the cache every tool shares.

The one module that imports ``huggingface_hub`` (lazily). Files land where
``huggingface-cli download``, llama.cpp's ``-hf`` and ``Llama.from_pretrained``
put them: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
``~/.cache/huggingface/hub``, so a model another tool pulled is used as it is,
without any network. The environment is read when a file is asked for, not when
``huggingface_hub`` was imported: ``HF_HUB_OFFLINE`` (or ``CHATDEV_OFFLINE``),
``HF_ENDPOINT``, ``HF_HOME`` / ``HF_HUB_CACHE``; ``HF_TOKEN`` (or the token of
``huggingface-cli login``) is the library's.

What chatdev adds to ``hf_hub_download``: one quick HEAD first (no retries), so
a missing repository, a gated one or no network is one line at once and not
after 20 s of back-off; a disk-space check before the first byte; ``Progress``
events instead of tqdm bars (and no warnings on stderr); the sha256 check after
the download (``check``), which removes a file that does not match from the
hub cache so no later run uses it; and every failure as a ``ModelError`` or
``ModelEnvironmentError`` with what to do next.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatdev.errors import ChatDevError, ModelEnvironmentError, ModelError
from chatdev.events import EventSink, Notice, null_sink
from chatdev.models import fetch

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT = 10.0
_TRUE = ("1", "true", "yes", "on")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOGIN_HINT = ("set HF_TOKEN or run `huggingface-cli login` (after accepting the model's terms "
               "on its Hugging Face page)")


# ----------------------------------------------------------------------------- the environment, read now


def offline() -> str | None:
    """The variable that turns the hub off (``HF_HUB_OFFLINE``, ...), or None when it may be reached."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CHATDEV_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return var
    return None


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def host() -> str:
    m = re.match(r"https?://([^/]+)", endpoint())
    return m.group(1) if m else endpoint()


def cache_dir() -> Path:
    """The shared hub cache, by huggingface_hub's own rule."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(home)).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def url(repo: str, file: str, revision: str) -> str:
    return f"{endpoint()}/{repo}/resolve/{revision}/{file}"


def _library() -> Any:
    # chatdev asks the hub for models, nothing else: no telemetry call (2.x sends one on
    # its first online request) unless the user turned it on themselves
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import huggingface_hub
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelEnvironmentError("huggingface_hub is not installed",
                                    hint="pip install 'huggingface_hub>=1.33,<3'") from None
    constants.HF_HUB_OFFLINE = offline() is not None  # it read the variable once, at import
    return huggingface_hub


# ----------------------------------------------------------------------------- what is here


def cached(repo: str, file: str, revision: str = "main") -> Path | None:
    """The file in the hub cache (no network), or None."""
    if not cache_dir().is_dir():
        return None
    hf = _library()
    try:
        found = hf.try_to_load_from_cache(repo, file, cache_dir=str(cache_dir()), revision=revision)
    except (ValueError, OSError):
        return None
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def remove(path: Path) -> None:
    """Take a file out of the hub cache: its snapshot entry and the blob it points to."""
    root = cache_dir().resolve()
    blob = path.resolve()
    for p in (path, blob):
        with contextlib.suppress(OSError):
            if p == path or root in p.parents:
                p.unlink()


def check(path: Path, sha256: str | None, *, fresh: bool, record: Path, sink: EventSink = null_sink,
          label: str) -> None:
    """The file's sha256 against the pin, else the hub's (an LFS blob is named by it); hashed once.

    A mismatch on a file this run downloaded, or on a blob that does not match its
    own name (broken for every tool), removes it from the hub cache. A fresh
    download must also be a GGUF. ``record`` remembers the check, so later runs
    do not hash gigabytes again.
    """
    blob_name = path.resolve().name
    etag = blob_name if _SHA256.fullmatch(blob_name) else None
    expected = sha256 or etag
    if fetch.verified(path, expected, record=record):
        return
    digest = fetch.sha256_of(path, sink=sink, label=label)
    if expected is not None and digest != expected:
        if fresh or (etag is not None and digest != etag):
            remove(path)
            raise ModelError(f"{label}: sha256 mismatch (got {digest[:12]}…, expected {expected[:12]}…); "
                             "the download was removed from the Hugging Face cache",
                             hint="try again; if it persists the source has changed")
        raise ModelError(f"{label}: the Hugging Face cache holds another version of it ({path}: sha256 "
                         f"{digest[:12]}…, chatdev expects {expected[:12]}…)",
                         hint="the repository has changed since chatdev pinned it: pass the file with "
                              "--model PATH, or use an embedded model (`chatdev models list`)")
    if fresh:
        from chatdev.models import gguf_info

        try:
            gguf_info.read(path)
        except ModelError as exc:
            remove(path)
            why = str(exc).removeprefix(f"{path}: ")
            raise ModelError(f"{label}: the download is not a usable GGUF ({why}); it was removed",
                             hint="check the reference names a .gguf file") from None
    if expected is None:
        sink(Notice(level="warning", text=f"{label}: the hub gave no sha256; the file was checked as GGUF only"))
    with contextlib.suppress(OSError):  # a read-only chatdev cache: hash again next time
        fetch.mark(path, digest, record=record)


# ----------------------------------------------------------------------------- downloads


def probe(repo: str, file: str, revision: str = "main", *, timeout: float = PROBE_TIMEOUT,
          label: str | None = None) -> Any:
    """One HEAD on the hub for this file, no retries: its metadata, or the ChatDevError that says why not."""
    label = label or file
    if offline() is not None:
        raise _offline_error(label)
    hf = _library()
    try:
        with _quiet(None, label):
            meta = hf.get_hf_file_metadata(hf.hf_hub_url(repo, file, revision=revision, endpoint=endpoint()),
                                           timeout=timeout, **_agent())
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        raise explain(exc, repo=repo, file=file, revision=revision, label=label) from None
    if not getattr(meta, "commit_hash", None) or not getattr(meta, "etag", None):
        raise ModelError(f"{label}: {host()} does not answer like a Hugging Face hub "
                         "(no X-Repo-Commit or ETag on the file)",
                         hint="check HF_ENDPOINT, or the proxy between you and the hub")
    return meta


def reachable(repo: str, file: str, revision: str = "main", *, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the hub answers for this file (False and why otherwise)."""
    try:
        probe(repo, file, revision, timeout=timeout)
    except ChatDevError as exc:
        return False, str(exc).split(": ", 1)[-1]
    return True, ""


def download(repo: str, file: str, revision: str = "main", *, sink: EventSink = null_sink,
             label: str | None = None) -> Path:
    """Fetch a file into the hub cache with ``hf_hub_download``; its path there (a snapshot entry).

    The caller checks the sha256 (``check``). Raises ModelError / ModelEnvironmentError.
    """
    label = label or Path(file).name
    meta = probe(repo, file, revision, label=label)
    size = getattr(meta, "size", None)
    if size:
        _room(int(size), label)
    hf = _library()
    try:
        with _quiet(sink, label), fetch._sigterm_raises(label):
            found = hf.hf_hub_download(repo, file, revision=revision, cache_dir=str(cache_dir()),
                                       endpoint=endpoint(), tqdm_class=_progress_class(sink, label), **_agent())
    except ChatDevError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        raise explain(exc, repo=repo, file=file, revision=revision, label=label, started=True) from None
    return Path(found)


def _agent() -> dict[str, str]:
    from chatdev import __version__

    return {"library_name": "chatdev", "library_version": __version__}


def _room(size: int, label: str) -> None:
    folder = cache_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < size:
        raise ModelEnvironmentError(f"{label}: needs {size:,} bytes but {folder} has {free:,} free",
                                    hint="free some disk space, or set HF_HOME (or HF_HUB_CACHE) to a bigger disk")


def _progress_class(sink: EventSink, label: str) -> type:
    """A tqdm class for ``hf_hub_download`` that draws nothing and sends chatdev's ``Progress`` events."""
    from tqdm.std import tqdm

    class Bar(tqdm):  # type: ignore[misc]
        monitor_interval = 0  # no monitor thread (its start would swallow the SIGTERM that raises Stopped)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)  # huggingface_hub's own bar takes a name; tqdm does not
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.chatdev_done = int(kwargs.get("initial") or 0)
            self.chatdev_report = fetch._throttled(sink, f"download {label}", kwargs.get("total"))
            self.chatdev_final = False

        def update(self, n: float | None = 1) -> bool | None:
            self.chatdev_done += int(n or 0)
            self.chatdev_report(self.chatdev_done)
            return None

        def close(self) -> None:
            if not getattr(self, "chatdev_final", True):
                self.chatdev_final = True
                self.chatdev_report(self.chatdev_done, final=True)
            super().close()

    return Bar


class _Resumes(logging.Handler):
    """huggingface_hub's "trying to resume" warnings as one chatdev notice each, not lines on stderr."""

    def __init__(self, sink: EventSink, label: str) -> None:
        super().__init__(logging.WARNING)
        self.sink, self.label = sink, label

    def emit(self, record: logging.LogRecord) -> None:
        if "resume" in record.getMessage().lower():
            self.sink(Notice(level="info", text=f"{self.label}: the connection was cut; resuming where it stopped"))


@contextlib.contextmanager
def _quiet(sink: EventSink | None, label: str) -> Iterator[None]:
    """No huggingface_hub log lines or warnings on stderr (CHATDEV_DEBUG=1 keeps them)."""
    if os.environ.get("CHATDEV_DEBUG"):
        yield
        return
    logger = logging.getLogger("huggingface_hub")  # the library puts its own stderr handler here
    handler = _Resumes(sink, label) if sink is not None else logging.NullHandler()
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate


# ----------------------------------------------------------------------------- one line for every failure


def _offline_error(label: str) -> ModelEnvironmentError:
    var = offline()
    return ModelEnvironmentError(
        f"{label}: not in the Hugging Face cache ({cache_dir()}) and cannot reach the hub: offline mode is on ({var})",
        hint=f"unset {var} to download it, or use a model that is here (`chatdev models list`)")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from, outermost first."""
    chain = [exc]
    while len(chain) < 8:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or nxt in chain:
            break
        chain.append(nxt)
    return chain


def _reason(exc: BaseException) -> str:
    """The innermost message: the socket's "[Errno 111] Connection refused", not the library's paragraph."""
    for seen in reversed(_chain(exc)):
        text = str(seen).strip()
        if text:
            return text.splitlines()[0][:160]
    return type(exc).__name__


def explain(exc: BaseException, *, repo: str, file: str, revision: str, label: str,
            started: bool = False) -> ChatDevError:
    """A huggingface_hub / HTTP / OS failure as one ModelError (exit 2) or ModelEnvironmentError (exit 3)."""
    names = {c.__name__ for c in type(exc).__mro__}
    response = next((r for e in _chain(exc) if (r := _response(e)) is not None), None)
    status = getattr(response, "status_code", None)
    code = ""
    with contextlib.suppress(Exception):
        code = str(response.headers.get("X-Error-Code") or "") if response is not None else ""
    where = host()
    if "OfflineModeIsEnabled" in names:
        return _offline_error(label)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ModelEnvironmentError(
            f"{label}: the disk filled while downloading into {cache_dir()} ({exc.strerror or exc}); "
            "the partial file was removed",
            hint="free some disk space, or set HF_HOME (or HF_HUB_CACHE) to a bigger disk")
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS)):
        return ModelEnvironmentError(f"{label}: cannot write into {cache_dir()} ({exc.strerror or exc})",
                                     hint="set HF_HOME (or HF_HUB_CACHE) to a writable folder")
    if code == "GatedRepo" or "GatedRepoError" in names or status == 403 or (
            status == 401 and code != "RepoNotFound"):
        return ModelError(f"{label}: {where} refused access to {repo} (HTTP {status}): the repository is gated "
                          "or private" + (", and the token sent was refused" if _has_token() else ""),
                          hint="check that HF_TOKEN has access to it" if _has_token() else _LOGIN_HINT)
    if code == "RepoNotFound" or "RepositoryNotFoundError" in names:
        return ModelError(f"{label}: no repository {repo} on {where} (HTTP {status})",
                          hint="check the owner/name; a private repository needs HF_TOKEN")
    if code == "RevisionNotFound" or "RevisionNotFoundError" in names:
        return ModelError(f"{label}: {repo} has no revision '{revision}' (HTTP {status})",
                          hint="check the @revision: a branch, a tag or a commit")
    if code == "EntryNotFound" or "RemoteEntryNotFoundError" in names or status == 404:
        return ModelError(f"{label}: {repo} has no file {file} at '{revision}' (HTTP {status or 404})",
                          hint="check the file name: the repository's Files tab lists them")
    if status is not None and (status == 429 or status >= 500):
        return ModelEnvironmentError(f"{label}: {where} answered HTTP {status}", hint="try again later")
    if status is not None:
        return ModelError(f"{label}: unexpected HTTP {status} from {where}", hint="try again later")
    if started:
        return ModelEnvironmentError(f"{label}: the download from {where} failed ({_reason(exc)}); "
                                     "nothing partial is used",
                                     hint="run the same command again")
    return ModelEnvironmentError(f"{label}: cannot reach {where} ({_reason(exc)})",
                                 hint="check the network or HF_ENDPOINT, or use a model that is here "
                                      "(`chatdev models list`)")


def _response(exc: BaseException) -> Any:
    try:
        return getattr(exc, "response", None)
    except Exception:  # noqa: BLE001 - httpx raises when a request error has no response
        return None


def _has_token() -> bool:
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    with contextlib.suppress(Exception):
        return bool(_library().get_token())
    return False
