"""Every reader and the CSV path, fuzzed with structured inputs, on SQLite and PostgreSQL: 0 tracebacks, 0 partial
imports (see fuzz_inputs.py). The normal run does LABELER_FUZZ_EXAMPLES (100) files per path and store; `make bench`
(bench/fuzz) runs the same tests with more and reports the counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.fuzz_inputs import EXAMPLES, JSON_READERS, Fuzz, csv_file, json_file

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture
def fuzz(db_url: str, tmp_path: Path) -> Fuzz:
    return Fuzz(tmp_path, "postgres" if db_url.startswith("postgresql") else "sqlite")


@pytest.mark.parametrize("fmt", JSON_READERS)
def test_every_json_reader_imports_or_refuses_cleanly(fuzz: Fuzz, fmt: str) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        content, suffix = data.draw(json_file(fmt))
        fuzz.check(fmt, content, suffix, data.draw(st.sampled_from([fmt, fmt, "auto"])), data.draw(st.booleans()))

    run()


def test_the_csv_path_imports_or_refuses_cleanly(fuzz: Fuzz) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        content, suffix = data.draw(csv_file())
        fuzz.check("csv", content, suffix, data.draw(st.sampled_from(["csv", "auto"])), data.draw(st.booleans()))

    run()
