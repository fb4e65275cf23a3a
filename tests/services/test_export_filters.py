"""One meaning for the date filters (a day is included whole, a time is exact), and the export preview
taking the same rows as the export (paraphrases included)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from db.models import Demonstration, Prompt
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, ExportRequest, date_filter, export_dataset, preview_export
from labeler.services.projects import get_project_or_raise
from tests.factories import make_project
from tests.services.queue_data import add_prompts
from tests.test_cli import invoke

TIMES = [datetime(2026, 11, 30, 23, 0, tzinfo=UTC), datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
         datetime(2026, 12, 2, 0, 0, tzinfo=UTC)]


def test_a_day_is_included_whole_and_a_time_is_exact():
    assert date_filter("2026-12-01", "--since") == datetime(2026, 12, 1, tzinfo=UTC)
    assert date_filter("2026-12-01", "--until", until=True) == datetime(2026, 12, 2, tzinfo=UTC)
    assert date_filter(date(2026, 12, 1), "until", until=True) == datetime(2026, 12, 2, tzinfo=UTC)  # the app's
    assert date_filter("2026-12-01T08:00", "--until", until=True) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert date_filter(None, "--since") is None and date_filter("", "--since") is None
    with pytest.raises(Invalid, match="--until: expected a date like 2026-11-23 or 2026-11-23T08:00, got `soon`"):
        date_filter("soon", "--until", until=True)


def _demonstrations() -> list[int]:
    make_project("p")
    ids = add_prompts("p", 3, candidates=0)
    with session_scope() as s:
        for pid, at in zip(ids, TIMES, strict=True):
            s.add(Demonstration(prompt_id=pid, turns=[{"role": "assistant", "content": f"answer {pid}"}],
                                status="submitted", origin="imported", submitted_at=at))
    return ids


def _exported(folder) -> list[str]:
    return sorted(json.loads(line)["messages"][-1]["content"]
                  for path in folder.glob("*.jsonl") for line in path.read_text().splitlines())


def test_until_a_day_keeps_the_work_of_that_day_in_the_cli(db_url, tmp_path):
    ids = _demonstrations()
    invoke("export", "sft-messages", "--project", "p", "--out", str(tmp_path / "a"), "--until", "2026-12-01")
    assert _exported(tmp_path / "a") == [f"answer {ids[0]}", f"answer {ids[1]}"]
    empty = invoke("export", "sft-messages", "--project", "p", "--out", str(tmp_path / "b"), "--since", "2026-12-01",
                   "--until", "2026-12-01T12:00", ok=False)
    assert empty.exit_code == 1 and "no rows match" in empty.output  # 12:00 exactly is not before 12:00
    invoke("export", "sft-messages", "--project", "p", "--out", str(tmp_path / "c"), "--since", "2026-12-01")
    assert _exported(tmp_path / "c") == [f"answer {ids[1]}", f"answer {ids[2]}"]


def test_the_preview_takes_the_rows_the_export_takes(db_url, tmp_path):
    ids = _demonstrations()
    with session_scope() as s:
        source = s.get(Prompt, ids[0])
        s.add(Prompt(project_id=get_project_or_raise(s, "p").id, messages=[{"role": "user", "content": "reworded"}],
                     source="paraphrase", split=source.split, content_hash="reworded", source_prompt_id=source.id,
                     paraphrase_status="kept"))
    request = ExportRequest(format="sft-messages", project="p", out_dir=tmp_path / "x", include_paraphrases=True,
                            filters=ExportFilters())
    with session_scope() as s:
        previewed = preview_export(s, OPERATOR, request, 10)
        written = export_dataset(s, OPERATOR, request)
    assert written.counts["augmented"] == 1 and len(previewed) == 4
    assert [r["messages"][0]["content"] for r in previewed][-1] == "reworded"
    with session_scope() as s, pytest.raises(Invalid, match="include-paraphrases"):
        preview_export(s, OPERATOR, request.model_copy(update={"format": "pairs"}), 3)
