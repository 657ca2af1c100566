"""The company YAML: loading, overriding, and every kind of bad input a user makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.company.config import ChatPhase, LoopPhase, load_company
from chatdev.company.orgchart import OrgChart
from chatdev.errors import ConfigError


def test_default_company_loads_with_the_waterfall() -> None:
    company = load_company()
    assert company.name == "ChatDev"
    assert set(company.roles) == {"CEO", "CTO", "Programmer", "Tester", "Documenter"}
    assert company.chain[:3] == ["demand_analysis", "design", "coding"]
    assert company.chain[-1] == "documentation"
    loops = [company.phases[n] for n in company.chain if isinstance(company.phases[n], LoopPhase)]
    assert [loop.until for loop in loops] == ["approved", "works"]
    coding = company.phases["coding"]
    assert isinstance(coding, ChatPhase) and coding.expects == "files" and coding.foreach
    assert company.improve[0] == "change_plan"


def test_org_chart_hierarchy() -> None:
    company = load_company()
    chart = OrgChart.from_roles(list(company.roles.values()))
    assert chart.manager("CTO") == "CEO"
    assert chart.manager("Programmer") == "CTO"
    assert chart.may_talk("CTO", "Programmer")
    assert chart.may_talk("Programmer", "Tester")  # peers under the CTO
    assert not chart.may_talk("CEO", "Programmer")  # skip-level
    assert chart.escalation_target("Tester") == "CTO"
    assert chart.tree()[0] == (0, "CEO")


def test_user_folder_overrides_by_file(company_dir: Path) -> None:
    (company_dir / "roles" / "cto.yaml").write_text(
        "name: CTO\ntitle: Architect\nreports_to: CEO\npersona: You design {{ company.name }} programs.\n")
    company = load_company(company_dir)
    assert company.roles["CTO"].title == "Architect"
    (company_dir / "phases" / "design.yaml").unlink()  # falls back to the shipped file
    assert "design" in load_company(company_dir).phases


def test_an_action_keeps_its_old_name(company_dir: Path) -> None:
    """`action: write_docs` (it writes requirements.txt) was renamed write_requirements; old companies still load."""
    manifest = company_dir / "phases" / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("action: write_requirements", "action: write_docs"))
    assert load_company(company_dir).phases["manifest"].action == "write_requirements"


def test_debate_phase_loads(company_dir: Path) -> None:
    text = (company_dir / "company.yaml").read_text().replace("  - design\n", "  - design_debate\n", 1)
    (company_dir / "company.yaml").write_text(text)
    company = load_company(company_dir)
    assert company.phases["design_debate"].kind == "debate"


@pytest.mark.parametrize(
    ("file", "edit", "expected"),
    [
        ("company.yaml", lambda t: t.replace("roles: [", "roles: [[ceo: {"), "YAML syntax error"),
        ("roles/cto.yaml", lambda t: t.replace("reports_to: CEO", "reports_to: CTO"), "cannot report to itself"),
        ("roles/cto.yaml", lambda t: t.replace("reports_to: CEO", "reports_to: CFO"), "unknown role 'CFO'"),
        ("roles/ceo.yaml", lambda t: t.replace("reports_to: null", "reports_to: Programmer"), "cycle"),
        ("phases/coding.yaml", lambda t: t.replace("assistant: Programmer", "assistant: Intern"),
         "assistant: unknown role 'Intern'"),
        ("phases/coding.yaml", lambda t: t.replace("instructor: CTO", "instructor: CEO"), "may not talk"),
        ("company.yaml", lambda t: "budget: 100\n" + t, "budget: unknown key"),
        ("company.yaml", lambda t: t.replace("  - manifest\n", "  - deploy\n", 1), "unknown phase 'deploy'"),
        ("roles/cto.yaml", lambda t: t.replace("{{ company.name }}", "{{ company.name }} {{ salary }}"),
         "undefined variable 'salary'"),
        ("phases/design.yaml", lambda t: t.replace("max_tokens: 400", "max_tokens: lots"), "max_tokens"),
        ("company.yaml", lambda t: t.replace("until: approved", "until: shipped"), "no phase in the loop"),
        ("company.yaml", lambda t: t.replace("max_cycles: 3", "max_cycles: 1000", 1), "max_cycles"),
    ],
)
def test_bad_company_is_one_clear_error(company_dir: Path, file: str, edit, expected: str) -> None:
    path = company_dir / file
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError) as info:
        load_company(company_dir)
    line = info.value.line()
    assert expected in line
    assert "\n" not in line
    assert file.split("/")[-1] in line  # names the file


def test_loop_that_contains_itself_is_refused(company_dir: Path) -> None:
    (company_dir / "phases" / "forever.yaml").write_text(
        "name: forever\nkind: loop\nphases: [forever]\nuntil: approved\n")
    text = (company_dir / "company.yaml").read_text().replace("  - manifest\n", "  - forever\n", 1)
    (company_dir / "company.yaml").write_text(text)
    with pytest.raises(ConfigError, match="contains itself"):
        load_company(company_dir)


def test_error_names_the_line(company_dir: Path) -> None:
    path = company_dir / "phases" / "coding.yaml"
    path.write_text(path.read_text().replace("max_turns", "max_turnz") if "max_turns" in path.read_text()
                    else path.read_text() + "colour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_company(company_dir)
    assert " line " in str(info.value) and "unknown key" in str(info.value)


# --------------------------------------------------------------------------- the CLI on the same inputs


def test_check_cli_ok_and_broken(cli, company_dir: Path) -> None:
    ok = cli("check", str(company_dir))
    assert ok.returncode == 0, ok.stderr
    assert "5 roles" in ok.stdout
    (company_dir / "roles" / "tester.yaml").write_text("name: Tester\nreports_to: Tester\npersona: x\n")
    bad = cli("check", str(company_dir))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "tester.yaml" in lines[0] and "Traceback" not in bad.stderr


def test_init_copies_and_refuses_non_empty(cli, tmp_path: Path) -> None:
    target = tmp_path / "my-company"
    first = cli("init", str(target))
    assert first.returncode == 0, first.stderr
    assert (target / "company.yaml").is_file() and (target / "roles" / "cto.yaml").is_file()
    before = sorted(p.name for p in target.rglob("*"))
    (target / "roles" / "cto.yaml").write_text("edited")
    again = cli("init", str(target))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert sorted(p.name for p in target.rglob("*")) == before
    assert (target / "roles" / "cto.yaml").read_text() == "edited"


def test_version_help_and_getting_started(cli) -> None:
    from chatdev import __version__

    assert cli("--version").stdout.strip() == f"chatdev {__version__}"
    top = cli()
    assert top.returncode == 0 and 'chatdev build "a snake game"' in top.stdout
    helps = cli("--help").stdout
    for command in ("build", "resume", "improve", "log", "report", "run", "init", "check", "models", "sandbox",
                    "bench", "doctor"):
        assert command in helps
    build_help = cli("build", "--help")
    assert build_help.returncode == 0 and "--image" in build_help.stdout and "Example" in build_help.stdout


def test_program_only_is_for_a_phase_that_writes_files(tmp_path: Path) -> None:
    from chatdev.company.scaffold import init_company

    folder = tmp_path / "company"
    init_company(folder)
    assert load_company(folder).phases["test_fix"].program_only is True  # the shipped fix leaves tests alone
    design = folder / "phases" / "design.yaml"
    design.write_text(design.read_text() + "program_only: true\n")
    with pytest.raises(ConfigError, match="program_only: only a phase that writes files"):
        load_company(folder)
