"""An export killed at each of its file-system steps, in turn, never leaves a manifest that disagrees with its files.

The child process is the real writer; before its Nth step (creating a temporary file, renaming a file into
place, removing one) it SIGKILLs itself. The folder already holds an older export with more splits and
Parquet files, so a torn publish would show the old `manifest.json` beside a new `train.jsonl`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from exports import write_export
from tests.exports.test_writer import VERSION, generated_rows
from tests.faults.conftest import ROOT

CHILD = textwrap.dedent("""
    import os, signal, sys, tempfile
    from exports import write_export
    from tests.exports.test_writer import VERSION, generated_rows

    kill_at, seen = int(sys.argv[2]), 0

    def step(real):
        def wrapped(*args, **kwargs):
            global seen
            seen += 1
            if seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapped

    os.replace, os.unlink, tempfile.mkstemp = step(os.replace), step(os.unlink), step(tempfile.mkstemp)
    write_export(sys.argv[1], "pairs", generated_rows(2, k=3), labeler_version=VERSION)
""")


def _disagreements(folder: Path) -> list[str]:
    """What the folder's manifest says that its files contradict (nothing when there is no manifest)."""
    path = folder / "manifest.json"
    if not path.exists():
        return []
    manifest = orjson.loads(path.read_bytes())
    problems = []
    for entry in manifest["files"]:
        file = folder / entry["path"]
        if not file.exists():
            problems.append(f"{entry['path']} is listed but missing")
            continue
        data = file.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["bytes"]:
            problems.append(f"{entry['path']} does not match its sha256 in the manifest")
    if not (folder / "README.md").exists():
        problems.append("README.md is missing beside a manifest")
    return problems


def test_a_kill_at_each_step_never_shows_a_manifest_disagreeing_with_its_files(tmp_path: Path) -> None:
    old = tmp_path / "old"
    write_export(old, "pairs", generated_rows(8), labeler_version=VERSION, parquet=True)
    states: list[str] = []
    for kill_at in range(1, 100):
        folder = tmp_path / f"step{kill_at}"
        shutil.copytree(old, folder)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(kill_at)], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
        assert _disagreements(folder) == [], f"killed at step {kill_at}"
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        manifest = folder / "manifest.json"
        states.append("none" if not manifest.exists() else
                      "old" if manifest.read_bytes() == (old / "manifest.json").read_bytes() else "new")
    else:
        raise AssertionError("the export never finished")
    assert kill_at > 5, "the export took fewer steps than expected: the hook did not see them"
    # before publishing the old export stands whole; while publishing there is no manifest; never torn
    assert states[0] == "old" and "none" in states and set(states) <= {"old", "none", "new"}
    final = orjson.loads((folder / "manifest.json").read_bytes())
    assert [e["path"] for e in final["files"]] == ["train.jsonl"]
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert visible == ["README.md", "manifest.json", "train.jsonl"]  # the old splits and Parquet files are gone
