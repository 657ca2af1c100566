"""The org chart: who reports to whom, who may talk to whom, where things escalate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chatdev.errors import ConfigError


class RoleLike(Protocol):
    """What the org chart reads of a role (a config.RoleSpec)."""

    name: str
    reports_to: str | None
    source: str


@dataclass(frozen=True)
class OrgChart:
    managers: dict[str, str | None]  # role name -> manager name (None at the top)

    @classmethod
    def from_roles(cls, roles: Sequence[RoleLike]) -> OrgChart:
        by_lower = {r.name.lower(): r.name for r in roles}
        managers: dict[str, str | None] = {}
        for role in roles:
            if role.reports_to is None:
                managers[role.name] = None
                continue
            boss = by_lower.get(role.reports_to.lower())
            if boss is None:
                raise ConfigError(f"{role.source}: reports_to: unknown role {role.reports_to!r}",
                                  hint=f"known roles: {', '.join(r.name for r in roles)}")
            if boss == role.name:
                raise ConfigError(f"{role.source}: reports_to: {role.name} cannot report to itself")
            managers[role.name] = boss
        chart = cls(managers)
        for role in roles:
            seen = [role.name]
            boss = managers[role.name]
            while boss is not None:
                if boss in seen:
                    raise ConfigError(
                        f"{role.source}: reports_to: cycle in the org chart ({' -> '.join(seen + [boss])})",
                        hint="every chain of reports_to must end at a role with none")
                seen.append(boss)
                boss = managers[boss]
        return chart

    def manager(self, name: str) -> str | None:
        return self.managers.get(name)

    def reports(self, name: str) -> list[str]:
        return [r for r, m in self.managers.items() if m == name]

    def may_talk(self, a: str, b: str) -> bool:
        """Manager and direct report, or peers under one manager (or both at the top)."""
        if a == b:
            return False
        ma, mb = self.managers.get(a), self.managers.get(b)
        return ma == b or mb == a or ma == mb

    def escalation_target(self, instructor: str) -> str | None:
        """Who decides when a loop run by ``instructor`` never reached its condition."""
        return self.managers.get(instructor) or None

    def top(self) -> list[str]:
        return [r for r, m in self.managers.items() if m is None]

    def tree(self) -> list[tuple[int, str]]:
        """(depth, role) in depth-first order, for drawing."""
        out: list[tuple[int, str]] = []

        def visit(name: str, depth: int) -> None:
            out.append((depth, name))
            for child in self.reports(name):
                visit(child, depth + 1)

        for root in self.top():
            visit(root, 0)
        return out
