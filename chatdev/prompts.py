"""One Jinja2 environment for every piece of prompt text.

Sandboxed (user company folders carry templates) and strict: an undefined
variable is an error that names the role or phase, never an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from chatdev.errors import ConfigError

# Variables each kind of template may use; checked when the company loads.
PERSONA_VARS = frozenset({"company", "role"})
PROMPT_VARS = frozenset({
    "company", "task", "role", "outputs", "item", "files", "code", "feedback",
    "cycle", "directive", "change", "images", "instructor", "assistant", "focus",
})
DOCUMENT_VARS = frozenset({"output", "task", "company", "outputs"})
COMMIT_VARS = frozenset({"phase", "files", "role", "outputs", "item", "cycle", "verdict", "task"})


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["numbered"] = lambda text: "\n".join(
        f"{i:4d}| {line}" for i, line in enumerate(str(text).splitlines(), 1))
    return env


def undeclared(source: str, *, where: str) -> set[str]:
    """The free variables of a template; a syntax error is a ConfigError."""
    env = environment()
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error on line {exc.lineno}: {exc.message}") from exc
    return set(meta.find_undeclared_variables(ast))


def check(source: str, allowed: frozenset[str], *, where: str) -> None:
    unknown = sorted(undeclared(source, where=where) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: template uses undefined variable {', '.join(repr(u) for u in unknown)}",
            hint=f"available: {', '.join(sorted(allowed))}",
        )


def render(source: str, context: dict[str, Any], *, where: str) -> str:
    """Render one template; any error names ``where`` (file and key)."""
    env = environment()
    try:
        return env.from_string(source).render(**context).strip()
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{where}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{where}: template error: {exc}") from exc
