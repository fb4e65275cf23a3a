"""Settings from `LABELER_*` variables: defaults, parsed values, and clear messages for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeler.config import get_settings
from labeler.errors import Invalid


def test_defaults_live_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "DATA_DIR", "EXPORT_DIR", "LOCKOUT_ATTEMPTS", "SESSION_HOURS"):
        monkeypatch.delenv(f"LABELER_{name}", raising=False)
    s = get_settings()
    assert s.database_url == f"sqlite:///{tmp_path / 'labeler.db'}"
    assert s.data_dir == tmp_path / "labeler-data" and s.export_dir == tmp_path / "labeler-data" / "exports"
    assert (s.lockout_attempts, s.lockout_minutes, s.session_hours) == (5, 15, 12.0)


def test_values_are_parsed_and_the_export_folder_follows_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("LABELER_EXPORT_DIR", raising=False)
    monkeypatch.setenv("LABELER_IMPORT_BATCH_SIZE", " 20 ")
    monkeypatch.setenv("LABELER_SESSION_HOURS", "0.5")
    s = get_settings()
    assert s.export_dir == Path(tmp_path / "d" / "exports")
    assert s.import_batch_size == 20 and s.session_hours == 0.5


@pytest.mark.parametrize(("name", "value", "message"), [
    ("LOCKOUT_ATTEMPTS", "three", "LABELER_LOCKOUT_ATTEMPTS='three': expected an integer"),
    ("LOCKOUT_ATTEMPTS", "0", "LABELER_LOCKOUT_ATTEMPTS='0': expected at least 1"),
    ("SESSION_HOURS", "0", "LABELER_SESSION_HOURS='0': expected more than 0"),
    ("MAX_RECORD_BYTES", "10", "LABELER_MAX_RECORD_BYTES='10': expected at least 1024"),
])
def test_a_bad_value_names_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(f"LABELER_{name}", value)
    with pytest.raises(Invalid) as e:
        get_settings()
    assert str(e.value) == message
