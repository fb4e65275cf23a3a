"""A full disk during an export: a clear error, exit status 1, and no partial file left in the folder.

The disk is "full" for the child process only: RLIMIT_FSIZE caps the size of any file it writes, and with
SIGXFSZ ignored a write past the cap fails with EFBIG, as a write to a full disk fails with ENOSPC.
"""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

from labeler.services import get_engine
from tests.factories import make_project
from tests.faults.conftest import cli_process, consistency_problems, count
from tests.faults.test_kill import _rankings

LIMIT = 256 * 1024


def _small_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_export_on_a_full_disk_fails_clearly_and_leaves_no_partial_file(sqlite_url: str, tmp_path: Path) -> None:
    make_project("p")
    _rankings("p", 5_000)  # about 1 MiB of pairs: past the cap
    get_engine(sqlite_url).dispose()
    out = tmp_path / "exports" / "pairs"
    out.mkdir(parents=True)
    (out / "train.jsonl").write_text('{"from": "an earlier export"}\n')  # what the folder held stays untouched
    proc = cli_process(sqlite_url, "export", "pairs", "--project", "p", "--out", str(out),
                       export_dir=tmp_path / "exports", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       preexec_fn=_small_disk)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, (proc.returncode, stderr[-2000:])
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "error:" in stderr and ("disk" in stderr or "space" in stderr or "too large" in stderr.lower()), stderr
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl"], "a partial or temporary file was left"
    assert (out / "train.jsonl").read_text() == '{"from": "an earlier export"}\n'
    assert count(sqlite_url, "exports") == 0
    assert consistency_problems(sqlite_url) == []
