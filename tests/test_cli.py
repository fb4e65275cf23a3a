"""The `labeler` command line, invoked for real against a migrated database on both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from labeler.cli import app
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args: str, input: str | None = None, ok: bool = True):
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_init_creates_the_first_admin_once(db_url):
    first = invoke("init", "--admin", "boss", "--password-stdin", input="s3cret-password\n")
    assert "admin `boss` created" in first.output
    again = invoke("init", "--password-stdin", input="whatever-password\n")
    assert "already exists" in again.output
    users = json.loads(invoke("user", "list", "--json").stdout)
    assert [(u["username"], u["role"]) for u in users] == [("boss", "admin")]


def test_password_is_never_echoed_or_stored_in_the_clear(db_url):
    result = invoke("user", "add", "alice", "--role", "labeler", "--password-stdin", input="hunter2-hunter2\n")
    assert "hunter2" not in result.output
    assert "alice" in result.output


def test_users_projects_import_and_stats_end_to_end(db_url, tmp_path):
    invoke("user", "add", "alice", "--role", "labeler", "--password-stdin", input="alice-password\n")
    invoke("project", "create", "qa", "--k-max", "4", "--labels-per-item", "2", "--split", "80/10/10")
    invoke("project", "add-member", "qa", "alice")
    shown = json.loads(invoke("project", "show", "qa", "--json").stdout)
    assert shown["settings"]["k_max"] == 4 and shown["settings"]["labels_per_item"] == 2
    src = SHARED_DATA / "lmarena-arena-hard" / "arena-hard-v0.1_question.jsonl"
    report = json.loads(invoke("import", str(src), "--project", "qa", "--json").stdout)
    assert report["format"] == "prompts" and report["prompts_added"] == 500
    stats = json.loads(invoke("stats", "--project", "qa", "--json").stdout)
    assert stats["prompts"]["total"] == 500
    assert sum(stats["prompts"]["by_split"].values()) == 500
    assert stats["rankings"]["total"] == 0
    # a labeler acting as themselves sees their project's stats but cannot administer
    assert json.loads(invoke("--as", "alice", "stats", "--project", "qa", "--json").stdout)["project"] == "qa"
    denied = invoke("--as", "alice", "project", "create", "mine", ok=False)
    assert denied.exit_code == 1 and "needs an admin" in denied.output


def test_import_failure_is_one_clean_message_and_changes_nothing(db_url):
    invoke("project", "create", "qa")
    bad = SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl"
    result = invoke("import", str(bad), "--project", "qa", ok=False)
    assert result.exit_code == 1
    assert "line 4 of toy_chat_fine_tuning.jsonl" in result.output and "Traceback" not in result.output
    stats = json.loads(invoke("stats", "--project", "qa", "--json").stdout)
    assert stats["prompts"]["total"] == 0


def test_skip_invalid_writes_a_rejects_file(db_url, tmp_path):
    invoke("project", "create", "qa")
    bad = SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    result = invoke("import", str(bad), "--project", "qa", "--skip-invalid", "--rejects", str(rejects))
    assert "rejected: 1" in result.output
    lines = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [r["line"] for r in lines] == [4]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x01\x02binary\x00", "binary"), (b'{"prompt": "caf\xe9"}\n', "UTF-8")],
)
def test_unreadable_files_get_a_clear_message(db_url, tmp_path, content, message):
    invoke("project", "create", "qa")
    path = tmp_path / "input.jsonl"
    path.write_bytes(content)
    result = invoke("import", str(path), "--project", "qa", ok=False)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_unknown_format_and_missing_project(db_url, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "hi"}\n')
    assert "not found" in invoke("import", str(path), "--project", "nope", ok=False).output
    invoke("project", "create", "qa")
    assert "unknown" in invoke("import", str(path), "--project", "qa", "--format", "yaml", ok=False).output


def test_unmigrated_database_asks_for_an_upgrade(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    result = invoke("project", "list", ok=False)
    assert "labeler db upgrade" in result.output
    invoke("db", "upgrade")
    assert "revision" in invoke("db", "current").output
    invoke("project", "list")


def test_demo_creates_the_demo_project_once(sqlite_url):
    first = invoke("demo", "--no-model")  # the offline demo model has its own (slow) test
    assert "project `demo` created" in first.output
    assert "already exists" in invoke("demo", "--no-model").output
    stats = json.loads(invoke("stats", "--project", "demo", "--json").stdout)
    assert stats["prompts"]["total"] > 0 and stats["rankings"]["total"] > 0


def _all_commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


COMMANDS = list(_all_commands(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(path, cmd):
    assert cmd.help and cmd.help.strip(), f"`labeler {' '.join(path)}` has no help text"
    assert invoke(*path, "--help").exit_code == 0
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"labeler " + re.escape(" ".join(path)) + r"\b", readme) or (
        f"`{path[-1]}`" in readme and f"labeler {path[0]}" in readme
    ), f"`labeler {' '.join(path)}` is not in README.md"


def test_export_validate_and_history(db_url, tmp_path):
    invoke("project", "create", "qa")
    invoke("import", str(SHARED_DATA / "openassistant" / "en_100_tree.jsonl"), "--project", "qa")
    out = tmp_path / "pairs"
    summary = json.loads(invoke("export", "pairs", "--project", "qa", "--out", str(out), "--json").stdout)
    assert summary["format"] == "pairs" and sum(summary["counts"].values()) > 0
    train = out / "train.jsonl"
    assert invoke("validate", str(train), "--format", "pairs").exit_code == 0
    history = json.loads(invoke("export-history", "--project", "qa", "--json").stdout)
    assert [h["id"] for h in history] == [summary["id"]]
    bad = invoke("export", "pairs", "--project", "qa", "--out", str(tmp_path / "x"), "--status", "approved", ok=False)
    assert bad.exit_code == 1 and "approved" in bad.output


def test_validate_reports_the_toy_files_faults_and_exits_1(tmp_path):
    toy = SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl"
    result = invoke("validate", str(toy), "--format", "openai-chat", ok=False)
    assert result.exit_code == 1
    assert "at least 10" in result.output and "line 4 of toy_chat_fine_tuning.jsonl" in result.output
    report = json.loads(invoke("validate", str(toy), "--format", "openai-chat", "--json", ok=False).stdout)
    assert report["errors"] and report["stats"]["examples"] == 5
    dpo = SHARED_DATA / "azure-foundry-dpo" / "orca_dpo_pairs_validation.jsonl"
    assert "valid" in invoke("validate", str(dpo), "--format", "openai-preference").output
