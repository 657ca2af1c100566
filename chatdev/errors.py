"""The one error family. Split by who must act; each carries its CLI exit code.

Model *misbehaviour* (a reply with no code, JSON that fails its schema, failing
tests) is never an exception: it goes back into the conversation.
"""

from __future__ import annotations


class ChatDevError(Exception):
    """Base of every error chatdev reports to a user. ``str(err)`` is one line."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def line(self) -> str:
        """The one line the CLI prints: the message and, if any, what to do next."""
        msg = str(self).strip().replace("\n", " ")
        return f"{msg} ({self.hint})" if self.hint else msg


class UsageError(ChatDevError):
    """Bad arguments on the command line (empty task, non-empty output folder...)."""

    exit_code = 2


class ConfigError(ChatDevError):
    """The user must fix a YAML file. Message names file and key."""

    exit_code = 2


class ModelError(ChatDevError):
    """A model is missing, corrupt, unreachable or out of context."""

    exit_code = 2


class ModelEnvironmentError(ModelError):
    """The machine cannot run the model (endpoint down, out of memory)."""

    exit_code = 3


class WorkspaceError(ChatDevError):
    """The project folder is not usable (not a chatdev project, dirty, unreadable state)."""

    exit_code = 2


class WorkspaceEnvironmentError(WorkspaceError):
    """The filesystem refused (read-only, disk full)."""

    exit_code = 3


class SandboxError(ChatDevError):
    """Docker is not installed, not running, not permitted, or the runner image is missing."""

    exit_code = 3


class Stopped(ChatDevError):
    """The process was told to stop (SIGTERM) in the middle of writing; what was half-written is gone."""

    exit_code = 143  # 128 + SIGTERM, as a shell reports a process the signal ended
