"""The context budget (``Conversation.fit``, ``cut_middle``) and the test model that knows where it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdev import events
from chatdev.errors import ModelError
from chatdev.models.base import CallInfo, Message
from chatdev.models.scripted import ScriptedModel, fill
from chatdev.run import engine
from chatdev.run.conversation import MIN_ANSWER, Conversation, cut_middle
from tests.scripted_company import company_models, good_reply, scripted


def count(text: str) -> int:
    return (len(text) + 3) // 4  # the scripted model's own count


# ----------------------------------------------------------------------------- the budget


def test_cut_middle_keeps_head_and_tail_within_the_budget() -> None:
    text = "\n".join(f"line {i:03d} " + "x" * 30 for i in range(200))
    cut = cut_middle(text, 300, count)
    assert count(cut) <= 300
    assert cut.startswith("line 000") and cut.rstrip().endswith("x" * 30) and "line 199" in cut
    assert "lines cut to fit the context" in cut
    assert cut_middle("short", 300, count) == "short"
    one_line = "y" * 10_000  # one enormous line is cut by characters
    assert "cut to fit the context" in cut_middle(one_line, 100, count) and len(cut_middle(one_line, 100, count)) < 400


def test_fit_never_overflows_the_window() -> None:
    model = ScriptedModel(["ok"], n_ctx=1024)
    conv = Conversation(model, "You are terse.")
    for i in range(12):  # a long history: the oldest turns go first
        conv.history += [Message("user", f"question {i} " + "q" * 300), Message("assistant", "a" * 300)]
    messages, answer = conv.fit("the newest request " + "r" * 6000, max_tokens=600)
    size = sum(count(m.content) + 48 for m in messages) + answer
    assert size <= model.n_ctx
    assert messages[0].role == "system" and messages[-1].content.startswith("the newest request")
    assert "cut to fit the context" in messages[-1].content
    assert MIN_ANSWER <= answer <= 600 and conv.trimmed > 0


def test_fit_refuses_a_system_prompt_that_leaves_no_room() -> None:
    conv = Conversation(ScriptedModel(["ok"], n_ctx=512), "p" * 4000)
    with pytest.raises(ModelError, match="the system prompt alone needs"):
        conv.fit("hi", max_tokens=100)


# ----------------------------------------------------------------------------- the test model knows where it is


def test_the_scripted_model_gets_where_each_call_comes_from(tmp_path: Path) -> None:
    seen: list[CallInfo] = []

    def reply(messages, info: CallInfo) -> str:
        seen.append(info)
        return good_reply(messages)

    model = ScriptedModel(reply)
    engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True), models=company_models(model))
    phases = [i.phase for i in seen]
    assert phases[:3] == ["demand_analysis", "design", "coding"]
    coding = next(i for i in seen if i.phase == "coding")
    assert coding.role == "Programmer" and coding.expects == "files" and coding.item == "main.py"
    design = next(i for i in seen if i.phase == "design")
    assert design.expects == "json" and design.schema and "files" in design.schema["properties"]
    assert model.calls[0].info == seen[0]


def test_rewording_a_prompt_does_not_break_the_scripted_company(tmp_path: Path) -> None:
    from chatdev.company.scaffold import init_company

    company = tmp_path / "company"
    init_company(company)
    for name in ("design", "coding", "demand_analysis", "code_review"):
        path = company / "phases" / f"{name}.yaml"
        text = path.read_text()
        path.write_text(text.replace("prompt: |\n", "prompt: |\n  (Reworded for this test.)\n", 1))
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True, company_dir=company),
                           sink=recorder, models=company_models(scripted()))
    assert summary.status == "untested" and (Path(summary.project) / "main.py").is_file()


def test_fill_makes_a_value_of_any_phase_schema() -> None:
    from chatdev.company.config import load_company
    from chatdev.models.base import schema_errors

    company = load_company(None)
    schemas = [p.json_schema for p in company.phases.values() if getattr(p, "json_schema", None)]
    assert len(schemas) >= 3
    for schema in schemas:
        assert schema_errors(fill(schema), schema) == [], json.dumps(schema)[:200]
