"""Importers fuzzed with hypothesis: random bytes, random JSON records and mutated real sample files.

Every input either imports (and the store holds exactly what the report says) or fails with a LabelerError
whose message is one clear text; never another exception, and never a partial import.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeler.errors import LabelerError
from labeler.readers import FORMATS
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.projects import create_project
from tests.conftest import SHARED_DATA
from tests.security.fuzz_inputs import stored_counts

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SAMPLES = [
    "openassistant/en_100_tree.jsonl", "openassistant/en_100_message.jsonl",
    "openassistant/prompt_lottery_en_250_text.jsonl", "openai-cookbook/toy_chat_fine_tuning.jsonl",
    "azure-foundry-dpo/orca_dpo_pairs_validation.jsonl", "lmsys-fastchat/mt_bench_question.jsonl",
]


def _head(relative: str, lines: int = 3) -> bytes:
    with (SHARED_DATA / relative).open("rb") as f:
        return b"".join(itertools.islice(f, lines))


def _hh_head() -> bytes:
    with gzip.open(SHARED_DATA / "anthropic-hh-rlhf" / "harmless-base_test_first500.jsonl.gz", "rb") as f:
        return b"".join(itertools.islice(f, 3))


REAL = {name: _head(name) for name in SAMPLES} | {"hh.jsonl": _hh_head()}
KEYS = ["prompt", "messages", "chosen", "rejected", "role", "content", "text", "message_id", "parent_id", "rank",
        "replies", "user", "assistant", "input", "preferred_output", "non_preferred_output", "id", "split",
        "deleted", "lang", "turns", "question", "\n\nHuman:", "\n\nAssistant:"]
ROLES = ["user", "assistant", "system", "prompter", "tool", "", "Human"]

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**12) | st.floats(allow_nan=False)
    | st.sampled_from(ROLES + ["\n\nHuman: hi\n\nAssistant: hello"]) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=12,
)
record = st.dictionaries(st.sampled_from(KEYS), json_value, min_size=1, max_size=5)


@pytest.fixture
def fuzz_db(sqlite_url: str) -> dict[str, int]:
    return {"n": 0}


def _try_import(state: dict[str, int], tmp: Path, data: bytes, fmt: str, suffix: str) -> None:
    state["n"] += 1
    project = f"fuzz{state['n']}"
    with session_scope() as s:
        create_project(s, OPERATOR, project, "g", {"k_min": 2, "k_max": 9})
    path = tmp / f"input{state['n']}{suffix}"
    path.write_bytes(data)
    report = None
    try:
        with session_scope() as s:
            report = import_file(s, OPERATOR, project, path, ImportOptions(format=fmt))
    except LabelerError as e:
        message = str(e)
        assert message.strip(), "an empty error message"
        assert "Traceback" not in message and len(message) < 5000, message[:300]
    stored = stored_counts(project)
    if report is None:
        assert stored == (0, 0, 0, 0), f"a failed import left rows behind: {stored}"
    else:
        assert stored == (report.prompts_added, report.candidates_added, report.rankings_added,
                          report.demonstrations_added), (stored, report)


formats = st.sampled_from(["auto", *FORMATS])


@FUZZ
@given(data=st.binary(max_size=300), fmt=formats, suffix=st.sampled_from([".jsonl", ".csv", ".jsonl.gz", ".txt"]))
def test_random_bytes_import_or_fail_cleanly(fuzz_db: dict, tmp_path: Path, data: bytes, fmt: str,
                                             suffix: str) -> None:
    _try_import(fuzz_db, tmp_path, data, fmt, suffix)


@FUZZ
@given(records=st.lists(record, min_size=1, max_size=6), fmt=formats, crlf=st.booleans())
def test_random_json_records_import_or_fail_cleanly(fuzz_db: dict, tmp_path: Path, records: list, fmt: str,
                                                    crlf: bool) -> None:
    data = ("\r\n" if crlf else "\n").join(json.dumps(r) for r in records).encode()
    _try_import(fuzz_db, tmp_path, data, fmt, ".jsonl")


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(REAL[draw(st.sampled_from(sorted(REAL)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["delete", "insert", "flip", "truncate", "swap-key"]))
        if kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20) | st.sampled_from(
                [b'"', b"{", b"}", b"\n", b"\\u0000", b"null", b'"rank": -1', b"\xff\xfe", b"<script>"]))
        elif kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "swap-key":
            old, new = draw(st.sampled_from(KEYS)), draw(st.sampled_from(KEYS))
            data = bytearray(bytes(data).replace(f'"{old}"'.encode(), f'"{new}"'.encode(), 1))
    return bytes(data)


@FUZZ
@given(data=mutated_sample(), fmt=formats, gz=st.booleans())
def test_mutated_real_files_import_or_fail_cleanly(fuzz_db: dict, tmp_path: Path, data: bytes, fmt: str,
                                                   gz: bool) -> None:
    _try_import(fuzz_db, tmp_path, gzip.compress(data) if gz else data, fmt, ".jsonl.gz" if gz else ".jsonl")


def test_the_unmutated_samples_import(fuzz_db: dict, tmp_path: Path) -> None:
    """The mutation base is real: every sample head imports as it is."""
    for name, data in REAL.items():
        _try_import(fuzz_db, tmp_path, data, "auto", ".jsonl")
        assert stored_counts(f"fuzz{fuzz_db['n']}")[0] > 0, name
