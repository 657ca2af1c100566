"""One Jinja2 environment for every piece of prompt text.

Sandboxed (user company folders carry templates) and strict: an undefined
variable is an error that names the role or phase, never an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from chatdev.errors import ConfigError

# Variables each kind of template is given, checked when the company loads. They are
# what the build passes (phases.template_context, phases.persona, phases._document,
# Chain._commit); tests/test_bad_inputs.py keeps the two in step.
PERSONA_VARS = frozenset({"company", "role", "sandbox"})  # sandbox: what a program may import (catalogue)
PROMPT_VARS = frozenset({
    "company", "task", "role", "outputs", "item", "files", "code", "feedback",
    "cycle", "directive", "change", "images", "focus", "crash", "tested", "clarifications",
    "importable",  # the program's public functions and classes as import lines (project/api.py)
})
DOCUMENT_VARS = frozenset({"output", "task", "company", "outputs"})
COMMIT_VARS = frozenset({"phase", "files", "role", "outputs", "item", "cycle", "verdict", "task"})

# Attributes of the variables whose shape is fixed (a name missing here is open: any attribute).
PERSONA_ATTRS = {"company": frozenset({"name", "description"}), "role": frozenset({"name", "title"})}
PROMPT_ATTRS = {"company": frozenset({"name", "description"})}
DOCUMENT_ATTRS = {"company": frozenset({"name"})}
MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})  # what a template may call on a dict


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    return env


def parse(source: str, *, where: str) -> nodes.Template:
    """A template's syntax tree; a syntax error is a ConfigError naming ``where`` and the line."""
    try:
        return environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error on line {exc.lineno}: {exc.message}",
                          hint="fix the Jinja2 template ({{ variable }}, {% if %}...{% endif %})") from exc


def undeclared(source: str, *, where: str) -> set[str]:
    """The free variables of a template; a syntax error is a ConfigError."""
    return set(meta.find_undeclared_variables(parse(source, where=where)))


def check(source: str, allowed: frozenset[str], *, where: str,
          attrs: Mapping[str, frozenset[str]] | None = None) -> None:
    """Refuse a template that would fail when rendered: an unknown variable, an unknown
    attribute of a variable whose shape ``attrs`` gives, or a private (``_``) attribute."""
    unknown = sorted(undeclared(source, where=where) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: template uses undefined variable {', '.join(repr(u) for u in unknown)}",
            hint=f"available: {', '.join(sorted(allowed))}",
        )
    for name, attr, line in attribute_uses(source, where=where):
        if attr.startswith("_"):
            raise ConfigError(f"{where}: line {line}: '{name or '...'}.{attr}': private attributes are not "
                              "available in templates", hint="use the documented fields only")
        known = (attrs or {}).get(name or "")
        if known is not None and attr not in known:
            raise ConfigError(f"{where}: line {line}: '{name}' has no attribute {attr!r}",
                              hint=f"{name} has: {', '.join(sorted(known - MAPPING_METHODS)) or 'nothing'}")


def attribute_uses(source: str, *, where: str) -> list[tuple[str | None, str, int]]:
    """(variable or None, attribute, line) for each ``x.attr`` and ``x['attr']`` in a template.

    The variable is given only for a free variable (not one the template sets or loops over).
    """
    ast = parse(source, where=where)
    free = meta.find_undeclared_variables(ast)
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    uses: list[tuple[str | None, str, int]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attr = node.arg.value
        else:
            continue
        base = node.node.name if isinstance(node.node, nodes.Name) else None
        uses.append((base if base in free and base not in local else None, attr, node.lineno))
    return uses


def render(source: str, context: dict[str, Any], *, where: str) -> str:
    """Render one template; any error names ``where`` (file and key)."""
    env = environment()
    try:
        return env.from_string(source).render(**context).strip()
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{where}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{where}: template error: {exc}") from exc
