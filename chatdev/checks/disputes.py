"""A test the programmer was asked about and that fails word for word again: the tester looks at it again.

The 1.5B's tests often expect a wrong value (``convert_temperature(10, 'F', 'C') == 50.0``,
``caesar_cipher("khoor", 3) == "hello"``). Sent to the programmer, such a test costs a fix
cycle that cannot make it pass, then another, until the loop stalls on "the same failure came
back" or "the fix changed nothing". So a test is *disputed* when it fails on its own assertion
(the program returned, the test expected something else), its failure was in the programmer's
report at the run before (``Record.asked``), and it fails in the same words with the same test
source again: whether the programmer's fix left it as it was or changed nothing at all, the
programmer has in effect disputed it. A dispute goes to the tester once, with the program's
value, to correct the expectation if the task makes the program right or to keep the test if
not; it is not sent to the programmer again meanwhile.

A disputed test still counts: ``tests_pass`` stays false until it passes, and it is never
quarantined for being disputed. A test the tester kept fails on as a program failure, sent
to the programmer, and is not disputed again. Pure functions: no Docker, no git.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from chatdev.checks.triage import TestCase, find_test, frame_file, test_lines

_OWN_FAILURE = re.compile(r"^E\s+(AssertionError\b|assert\b)|Failed: DID NOT RAISE", re.MULTILINE)


@dataclass
class Record:
    """What the disputes of one test loop remember between its runs."""

    seen: dict[str, str] = field(default_factory=dict)  # test id -> fingerprint of its last own failure
    sent: list[str] = field(default_factory=list)  # test ids already sent to the tester as disputed
    asked: list[str] = field(default_factory=list)  # test ids in the programmer's report at the last run

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_value(cls, value: object) -> Record:
        if not isinstance(value, Mapping):
            return cls()
        seen, sent, asked = value.get("seen"), value.get("sent"), value.get("asked")
        return cls(seen={str(k): v for k, v in seen.items() if isinstance(v, str)} if isinstance(seen, Mapping) else {},
                   sent=[str(s) for s in sent] if isinstance(sent, list) else [],
                   asked=[str(s) for s in asked] if isinstance(asked, list) else [])


def fails_on_own_assertion(case: TestCase) -> bool:
    """The test ran the program to its end and disagreed with the result in its own file."""
    if not case.failed or not case.counts:
        return False
    text = f"{case.message}\n{case.text}"
    return bool(_OWN_FAILURE.search(text)) and frame_file(text) == case.file


def fingerprint(case: TestCase, test_source: str) -> str:
    """The failure's words (no object addresses) and the test's own source, hashed."""
    words = re.sub(r"\b0x[0-9a-fA-F]{6,}\b", "0x…", f"{case.message}\n{case.text}")
    body = _test_source(test_source, case.name)
    return hashlib.sha256(f"{words}\0{body}".encode()).hexdigest()[:16]


def mark(cases: Iterable[TestCase], record: Record, *, sources: Mapping[str, str],
         runs: bool | None, exempt: Collection[str] = ()) -> tuple[list[TestCase], Record]:
    """The cases with the new disputes marked (``disputed``: what the tester is told), and the
    record (its ``asked`` is the caller's to fill: what this run's report sends the programmer).

    Only a program that runs disputes: while it does not, the programmer's fix was about the run.
    ``exempt``: tests never disputed (an independent computation agreed with their expected value).
    """
    out: list[TestCase] = []
    seen: dict[str, str] = {}
    sent = list(record.sent)
    for case in cases:
        if runs and case.id not in exempt and fails_on_own_assertion(case):
            now = fingerprint(case, sources.get(case.file, ""))
            seen[case.id] = now
            if record.seen.get(case.id) == now and case.id in record.asked and case.id not in sent:
                sent.append(case.id)
                case = dataclasses.replace(case, disputed=_why(case))
        out.append(case)
    return out, Record(seen=seen, sent=sent)


def upheld(cases: Iterable[TestCase], record: Record, *, sources: Mapping[str, str]) -> list[str]:
    """The disputed tests (``record``: before this run) the tester kept: they fail as they did."""
    out = []
    for case in cases:
        before = record.seen.get(case.id)
        if (case.id in record.sent and before and fails_on_own_assertion(case)
                and before == fingerprint(case, sources.get(case.file, ""))):
            out.append(case.id)
    return out


_BOUND = re.compile(r"<bound method (\w+)\.(\w+) of <[^<>]*>>")


def _why(case: TestCase) -> str:
    """What the tester is told: the test's failing line, and pytest's words with a bound method's
    ``<bound method C.m of <main.C object at 0x...>>`` written ``C.m`` (and its ``where <bound
    method ...> = <obj>.m`` line left out): what the small model has to weigh."""
    got = [" ".join(_BOUND.sub(r"\1.\2", ln[1:]).split()) for ln in case.text.splitlines()
           if ln.startswith("E ") and not re.match(r"E\s+\+\s+where <bound method", ln)][:2]
    shown = "; ".join(got)[:300] or case.message[:200]
    line = next((ln.strip() for ln in reversed(test_lines(case)) if ln.strip()), "")
    at = f"`{line[:160]}` " if line else ""
    return (f"the programmer was told of this failure and it still fails the same way: {at}({shown}). "
            "If the task makes the program's result right, correct the expected value; "
            "if the program is wrong, keep the test as it is")


def _test_source(source: str, name: str) -> str:
    fn = find_test(source, name)
    return (ast.get_source_segment(source, fn) or "") if fn is not None else source
