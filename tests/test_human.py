"""A person in the company (issue 15): --human ROLE, checkpoints (--review), --clarify, --answers.

Most cases run the engine on the scripted model with the person's answers given as a file or by
a scripted ``HumanIO``; the interactive path runs the real command line on a pty (pexpect), with
the scripted company patched into ``engine.build`` so no model is loaded.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatdev import events
from chatdev.errors import ChatDevError, ConfigError, UsageError
from chatdev.run import engine, human
from tests.scripted_company import company_models, good_reply, scripted

REPO = Path(__file__).resolve().parent.parent
DESIGN = json.dumps({"summary": "A snake game.", "entry": "main.py", "run": "python main.py",
                     "files": [{"path": "main.py", "purpose": "everything"}]})


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=True).stdout


def asks_questions(messages) -> str:
    text = messages[-1].content
    if "at most three" in text and "questions" in text:
        return json.dumps({"questions": ["Which keys move the snake?", "Keep a high score?"]})
    return good_reply(messages)


def answers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    return path


def build(tmp_path: Path, fn=asks_questions, io_=None, **opts):
    model = scripted(fn)
    recorder = events.Recorder()
    options = engine.BuildOptions(task=opts.pop("task", "a snake game"), out=tmp_path / "out", no_run=True, **opts)
    summary = engine.build(options, sink=recorder, models=company_models(model), io=io_)
    return summary, recorder, model


class Person:
    """A scripted person: answers by phase, in order; records what they were shown."""

    source = "terminal"

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.asked: list[human.Ask] = []

    def ask(self, ask: human.Ask) -> str:
        self.asked.append(ask)
        value = self.answers[ask.phase].pop(0)
        if value == "^C":
            raise KeyboardInterrupt
        return value


def commits(project: Path) -> list[str]:
    fmt = "--format=%an|%s|%(trailers:key=Role,valueonly,separator=%x2C)"
    return git(project, "log", "--reverse", fmt).splitlines()


# ----------------------------------------------------------------------------- the three kinds of turn


def test_answers_file_plays_a_role_approves_and_answers_the_ceo(tmp_path: Path) -> None:
    answers = answers_file(tmp_path, f"""
clarify: [arrow keys, "no"]
demand_analysis: "- The snake moves with the arrow keys\\n- No high score"
approve_demand_analysis: approve
design: '{DESIGN}'
approve_design: approve
code_review: '{{"approved": true, "issues": []}}'
""")
    summary, recorder, model = build(tmp_path, human=("cto",), review=True, clarify=True, answers=answers)
    project = Path(summary.project)
    assert summary.status == "untested" and summary.exit_code == 0, summary.reason
    assert (project / "docs/requirements.md").read_text().startswith("- The snake moves with the arrow keys")
    log = commits(project)
    assert "CEO|[clarify] Clarify: 2 question(s) answered by the customer|CEO" in log
    assert "CTO|[demand_analysis] Requirements for: a snake game|CTO (human)" in log
    assert "CEO|[approve_demand_analysis] Approved demand_analysis|CEO (human)" in log
    assert "CEO|[approve_design] Approved design|CEO (human)" in log
    assert any(line.startswith("Programmer|[coding]") and line.endswith("|Programmer") for line in log)
    # the CTO's turns never reached the model; the person was shown the CTO's prompt
    assert not any("Write the requirements" in c.messages[-1].content for c in model.calls)
    turns = recorder.of(events.HumanTurn)
    assert [(t.phase, t.turn, t.source) for t in turns][:3] == [
        ("clarify", "clarify", "answers"), ("clarify", "clarify", "answers"), ("demand_analysis", "reply", "answers")]
    assert "Write the requirements" in turns[2].question and "arrow keys" in turns[2].question  # clarifications
    # recorded: the transcript, the state, the report
    kinds = [json.loads(line)["kind"] for line in (project / ".chatdev/transcript.jsonl").read_text().splitlines()]
    assert kinds.count("human_turn") == len(turns) == 7 and "human_waiting" in kinds
    state = json.loads((project / ".chatdev/state.json").read_text())
    assert [r["phase"] for r in state["outputs"]["human"]][:3] == ["clarify", "clarify", "demand_analysis"]
    assert state["outputs"]["clarify"] == [{"question": "Which keys move the snake?", "answer": "arrow keys"},
                                           {"question": "Keep a high score?", "answer": "no"}]
    assert state["options"]["human"] == ["CTO"] and state["options"]["review"] is True
    page = (project / ".chatdev/report.html").read_text()
    assert "typed by the person" in page and "CEO (the person)" in page and "The customer" in page


def test_clarifications_go_into_the_requirements_prompt(tmp_path: Path) -> None:
    answers = answers_file(tmp_path, "clarify: [WASD, a high score in a file]\n")
    summary, _, model = build(tmp_path, clarify=True, answers=answers)
    assert summary.exit_code == 0
    prompt = next(c.messages[-1].content for c in model.calls if "Write the requirements" in c.messages[-1].content)
    assert "The customer answered your questions" in prompt
    assert "Q: Which keys move the snake?" in prompt and "A: WASD" in prompt and "A: a high score in a file" in prompt
    schema_call = next(c for c in model.calls if "at most three" in c.messages[-1].content)
    assert schema_call.schema["properties"]["questions"]["maxItems"] == 3


def test_without_clarify_the_prompt_has_no_questions(tmp_path: Path) -> None:
    summary, _, model = build(tmp_path)
    prompt = next(c.messages[-1].content for c in model.calls if "Write the requirements" in c.messages[-1].content)
    assert "answered your questions" not in prompt
    assert not any("at most three" in c.messages[-1].content for c in model.calls)
    assert not [line for line in commits(Path(summary.project)) if "approve_" in line]  # off by default


def test_a_reply_that_does_not_parse_gets_the_same_correction_as_a_model(tmp_path: Path) -> None:
    person = Person({"design": ["a snake game in one file, main.py", DESIGN]})
    summary, recorder, _ = build(tmp_path, human=("CTO",), io_=person, company_dir=_only_design_human(tmp_path))
    assert summary.exit_code == 0, summary.reason
    retries = recorder.of(events.Retry)
    assert retries and retries[0].phase == "design" and retries[0].role == "CTO"
    shown = [a.text for a in person.asked if a.phase == "design"]
    assert len(shown) == 2 and "Your reply could not be used" in shown[1] and "Plan the Python program" in shown[1]
    assert "`main.py`" in (Path(summary.project) / "docs/design.md").read_text()


def _only_design_human(tmp_path: Path) -> Path:
    """A company where the CTO speaks only in the design (the requirements go to the CEO's model)."""
    from chatdev.company.scaffold import init_company

    folder = tmp_path / "company"
    init_company(folder)
    text = (folder / "company.yaml").read_text()
    text = text.replace("  - loop: [static_check, code_review, code_fix]\n    name: review_loop\n    max_cycles: 3\n"
                        "    until: approved\n", "", 1)
    (folder / "company.yaml").write_text(text)
    da = folder / "phases/demand_analysis.yaml"
    da.write_text(da.read_text().replace("instructor: CEO\nassistant: CTO", "instructor: CTO\nassistant: CEO"))
    return folder


def test_change_at_a_checkpoint_redoes_the_phase_once_with_the_comment(tmp_path: Path) -> None:
    answers = answers_file(tmp_path, "approve_demand_analysis: 'change: add a pause key (p)'\n"
                                     "approve_design: approve\n")
    def fn(messages):
        if "add a pause key" in messages[-1].content:
            return "- The snake moves on a grid\n- p pauses the game"
        return good_reply(messages)

    summary, recorder, model = build(tmp_path, fn, review=True, answers=answers)
    assert summary.exit_code == 0
    assert "p pauses the game" in (Path(summary.project) / "docs/requirements.md").read_text()
    asks = [c.messages[-1].content for c in model.calls if "Write the requirements" in c.messages[-1].content]
    assert len(asks) == 2
    assert "add a pause key (p)" in asks[1] and "Your previous version" in asks[1] and "The snake moves" in asks[1]
    log = commits(Path(summary.project))
    assert "CEO|[approve_demand_analysis] Change asked for demand_analysis: add a pause key (p)|CEO (human)" in log
    assert "CTO|[demand_analysis] Requirements for: a snake game (revised after review)|CTO" in log
    review = next(t for t in recorder.of(events.HumanTurn) if t.phase == "approve_demand_analysis")
    assert "The snake moves on a grid" in review.question  # the person saw the document


def test_company_yaml_approve_names_a_phase_or_its_document(tmp_path: Path, company_dir: Path) -> None:
    from chatdev.company.config import load_company

    text = (company_dir / "company.yaml").read_text()
    (company_dir / "company.yaml").write_text(text + "approve: [design]\n")
    company = load_company(company_dir)
    assert company.chain[:3] == ["demand_analysis", "design", "approve_design"]
    assert load_company(None).chain[0] == "demand_analysis"  # shipped: off
    assert load_company(None, approve=["requirements", "design"]).chain[:4] == [
        "demand_analysis", "approve_demand_analysis", "design", "approve_design"]
    (company_dir / "company.yaml").write_text(text + "approve: [nothing_like_it]\n")
    with pytest.raises(ConfigError, match="approve\\[0\\]: no phase 'nothing_like_it'"):
        load_company(company_dir)


def test_a_phase_file_of_kind_human(tmp_path: Path, company_dir: Path) -> None:
    (company_dir / "phases/sign_off.yaml").write_text("name: sign_off\nkind: human\nreview: design\nrole: CTO\n")
    text = (company_dir / "company.yaml").read_text().replace("  - coding\n", "  - sign_off\n  - coding\n", 1)
    (company_dir / "company.yaml").write_text(text)
    answers = answers_file(tmp_path, "sign_off: yes\n")
    summary, _, _ = build(tmp_path, company_dir=company_dir, answers=answers)
    assert summary.exit_code == 0
    assert "CTO|[sign_off] Approved design|CTO (human)" in commits(Path(summary.project))


# ----------------------------------------------------------------------------- stop, Ctrl-C, resume


def test_stop_at_a_checkpoint_stops_like_ctrl_c_and_resume_asks_only_what_is_left(tmp_path: Path) -> None:
    first = answers_file(tmp_path, "clarify: [arrows, 'no']\napprove_demand_analysis: stop\napprove_design: approve\n")
    summary, _, _ = build(tmp_path, review=True, clarify=True, answers=first)
    project = Path(summary.project)
    assert summary.status == "interrupted" and summary.exit_code == 130
    assert summary.run_hint == f"chatdev resume {project}"
    assert not _project_changes(project)  # nothing half-written
    # resumed by a person at the terminal: the CEO's questions are not asked again
    person = Person({"approve_demand_analysis": ["approve"], "approve_design": ["approve"]})
    recorder = events.Recorder()
    resumed = engine.resume(project, sink=recorder, models=company_models(scripted(asks_questions)), io=person)
    assert resumed.exit_code == 0, resumed.reason
    assert [a.phase for a in person.asked] == ["approve_demand_analysis", "approve_design"]


def test_ctrl_c_at_a_prompt_is_resumable_and_the_step_s_answers_are_not_asked_again(tmp_path: Path) -> None:
    person = Person({"design": ["not a plan", "^C"]})
    summary, _, _ = build(tmp_path, human=("CTO",), io_=person, company_dir=_only_design_human(tmp_path))
    project = Path(summary.project)
    assert summary.status == "interrupted" and summary.exit_code == 130
    assert not (project / "docs/design.md").exists()
    assert not _project_changes(project)
    again = Person({"design": [DESIGN]})
    recorder = events.Recorder()
    resumed = engine.resume(project, sink=recorder, models=company_models(scripted()), io=again)
    assert resumed.exit_code == 0, resumed.reason
    assert len(again.asked) == 1 and "could not be used" in again.asked[0].text  # the first answer was replayed
    sources = [(t.phase, t.source) for t in recorder.of(events.HumanTurn)]
    assert sources == [("design", "recorded"), ("design", "terminal")]


def test_answers_file_on_resume_skips_the_answers_already_used(tmp_path: Path) -> None:
    answers = answers_file(tmp_path, "approve_demand_analysis: [stop, approve]\napprove_design: approve\n")
    summary, _, _ = build(tmp_path, review=True, answers=answers)
    assert summary.exit_code == 130
    resumed = engine.resume(Path(summary.project), models=company_models(scripted()), answers=answers)
    assert resumed.exit_code == 0, resumed.reason  # the stop was used; "approve" is next


# ----------------------------------------------------------------------------- no terminal, bad input


def test_no_terminal_refuses_before_anything_is_made(tmp_path: Path) -> None:
    for io_ in (None, human.NoTerminal("--json is on")):
        with pytest.raises(human.HumanUnavailable) as err:
            build(tmp_path, io_=io_, review=True)
        assert "needs a person at a terminal" in err.value.line() and "--answers FILE" in err.value.line()
    assert not (tmp_path / "out").exists()


def test_a_role_played_by_nobody_is_fine_without_a_terminal(tmp_path: Path) -> None:
    summary, _, _ = build(tmp_path, io_=human.NoTerminal("--quiet is on"))
    assert summary.exit_code == 0


@pytest.mark.parametrize("text, says", [
    (None, "no such file"),
    ("approve_design: [approve\n", "not YAML"),
    ("- approve\n", "expected a mapping"),
    ("approve_demand_analysis: approve\n", "no answer for phase 'approve_design'"),
    ("approve_demand_analysis: maybe\napprove_design: approve\n", "'maybe' is not a decision"),
    ("approve_demand_analysis: {a: b}\napprove_design: approve\n", "expected an answer"),
])
def test_a_bad_answers_file_is_refused_before_anything_is_made(tmp_path: Path, text: str | None, says: str) -> None:
    path = tmp_path / "answers.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError, match=None) as err:
        build(tmp_path, review=True, answers=path)
    assert says in err.value.line()
    assert not (tmp_path / "out").exists()


def test_an_unknown_role_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        build(tmp_path, human=("Janitor",))
    assert err.value.line() == ("--human Janitor: no such role in ChatDev "
                                "(known roles: CEO, CTO, Programmer, Tester, Documenter)")
    assert err.value.exit_code == 2 and not (tmp_path / "out").exists()


def test_an_answer_missing_inside_a_loop_stops_with_one_line_and_resumes(tmp_path: Path) -> None:
    answers = answers_file(tmp_path, f"demand_analysis: '- moves'\ndesign: '{DESIGN}'\n")
    with pytest.raises(ChatDevError) as err:
        build(tmp_path, human=("CTO",), answers=answers)
    assert "code_review asks CTO again" in err.value.line() and err.value.exit_code == 2
    project = tmp_path / "out" / "snake_game"
    answers.write_text(answers.read_text() + "code_review: '{\"approved\": true, \"issues\": []}'\n")
    resumed = engine.resume(project, models=company_models(scripted()), answers=answers)
    assert resumed.exit_code == 0, resumed.reason


# ----------------------------------------------------------------------------- the terminal


def test_terminal_reads_lines_until_a_dot_or_eof() -> None:
    out = io.StringIO()
    term = human.TerminalIO(stdin=io.StringIO("first line\n\nthird\n.\nnot read\n"), stdout=out)
    assert term.ask(human.Ask("design", "CTO", "reply", "Plan the \x1b[31mprogram\x1b[0m.")) == "first line\n\nthird"
    assert "design: you, as CTO" in out.getvalue() and "\x1b[31m" not in out.getvalue()
    term = human.TerminalIO(stdin=io.StringIO("no dot at the end"), stdout=io.StringIO())
    assert term.ask(human.Ask("design", "CTO", "reply", "x")) == "no dot at the end"


def test_terminal_colon_e_opens_the_editor(tmp_path: Path) -> None:
    editor = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'a').write('from the editor')\""
    term = human.TerminalIO(stdin=io.StringIO(":e\n"), stdout=io.StringIO(), editor=editor)
    assert term.ask(human.Ask("design", "CTO", "reply", "Plan the program.")) == "from the editor"


def test_decisions_parse() -> None:
    assert human.parse_decision("approve") == ("approve", "")
    assert human.parse_decision("Change: bigger board") == ("change", "bigger board")
    assert human.parse_decision("c use curses") == ("change", "use curses")
    assert human.parse_decision("change") is None  # a change says what
    assert human.parse_decision("STOP") == ("stop", "")
    assert human.parse_decision("maybe later") is None


SCRIPTED_CLI = ("import sys; sys.path.insert(0, {repo!r}); from chatdev.run import engine; "
                "from tests.scripted_company import company_models, scripted; "
                "real = engine.build; "
                "engine.build = lambda opts, **kw: real(opts, **{{**kw, 'models': company_models(scripted())}}); "
                "from chatdev.cli import main; sys.argv[0] = 'chatdev'; main()")


def test_the_person_at_a_real_terminal_approves_then_ctrl_c_then_resume(tmp_path: Path) -> None:
    """The live view steps aside, the person types, Ctrl-C at the prompt is exit 130 and resumable."""
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"})
    child = pexpect.spawn(sys.executable, ["-c", SCRIPTED_CLI.format(repo=str(REPO)), "build", "a snake game",
                                           "--review", "--no-run", "--out", str(tmp_path)],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=60, dimensions=(40, 120))
    try:
        child.expect("approve_demand_analysis: you, as CEO")
        child.expect("The snake moves on a grid")
        child.expect("> ")
        child.sendline("approve")
        child.expect("> ")
        child.sendline(".")
        child.expect("approve_design: you, as CEO")
        child.expect("> ")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 130, child.before
    project = tmp_path / "snake_game"
    state = json.loads((project / ".chatdev/state.json").read_text())
    assert state["status"] == "interrupted" and "1:approve_demand_analysis" in state["completed"]
    assert "1:approve_design" not in state["completed"]
    assert not _project_changes(project)
    # resumed without a terminal: the answers file has only what is left
    answers = answers_file(tmp_path, "approve_design: approve\n")
    resumed = engine.resume(project, models=company_models(scripted()), answers=answers)
    assert resumed.exit_code == 0, resumed.reason


def _project_changes(project: Path) -> list[str]:
    """Uncommitted changes to project files (the state and transcript say where the run stopped)."""
    status = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    return [line for line in status if not line[3:].startswith(".chatdev/")]


def test_improve_with_review_and_a_human_role(tmp_path: Path) -> None:
    summary, _, _ = build(tmp_path)
    project = Path(summary.project)
    answers = answers_file(tmp_path, "approve_change_plan: approve\n"
                                     "documentation_update: \"# Snake\\n\\nPress p to pause.\\n\"\n")
    improved = engine.improve(project, "add a pause key", models=company_models(scripted()), no_run=True,
                              humans=("Documenter",), review=True, answers=answers)
    assert improved.exit_code == 0, improved.reason
    log = commits(project)
    assert "CEO|[approve_change_plan] Approved change_plan|CEO (human)" in log
    assert any("[documentation_update]" in line and line.endswith("|Documenter (human)") for line in log)
    assert (project / "README.md").read_text().startswith("# Snake\n\nPress p to pause.")
