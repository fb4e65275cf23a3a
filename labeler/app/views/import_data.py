"""Import (admins): upload a file, pick the project, format and hygiene options, import with progress,
then the report and the rejected records.

Design constraints:
- The upload is written to a temporary folder under its own name (so messages say `line 4 of
  prompts.jsonl`, and detection sees its suffix) and the folder is removed afterwards, rejects included:
  the rejects are read into the session for the table and the download first.
- The import is one transaction (`deps.call`): a refused import shows the error with file, line and
  field, and the database is unchanged.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
import streamlit as st

from labeler.app import deps, tasks
from labeler.errors import LabelerError
from labeler.services.admin import admin_projects
from labeler.services.ingest import FORMATS, ImportOptions, import_file, notice_label
from labeler.services.projects import settings_of

K = "import."  # session_state namespace of this page
LAST = K + "last"  # the last import's report and rejects, shown until the next import
SHOWN_REJECTS = 1000  # rows in the rejects table (the download has them all)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """The uploaded file's name reduced to a plain file name (no folders, no odd characters)."""
    cleaned = _UNSAFE.sub("_", Path(name).name).strip("._")
    return cleaned or "upload.jsonl"


def _options(defaults: Any) -> dict[str, Any]:  # noqa: ANN401 - the project's ProjectSettings
    """The CLI's import options as widgets; "project default" leaves a setting to the project."""
    c1, c2, c3 = st.columns(3)
    fmt = c1.selectbox("Format", ["auto", *FORMATS], key=K + "format",
                       help="auto detects the format from the first records")
    # Short labels (the columns are narrow at 1,024 px); the detail is in the help.
    skip_invalid = c2.checkbox("Skip invalid records", key=K + "skip_invalid",
                               help="Import the rest and list the rejected records with line, field and reason")
    dedup_prefix = c3.checkbox("Drop near-duplicates", value=True, key=K + "dedup_prefix",
                               help=f"Prompts whose first {defaults.dedup_prefix_chars} characters are equal")
    c4, c5, c6 = st.columns(3)
    max_per_user = c4.number_input(
        "Most prompts per originating user", min_value=1, value=None, step=1, key=K + "max_per_user",
        placeholder=f"project default ({defaults.max_prompts_per_user})")
    split = c5.text_input("Split train/valid/test", key=K + "split",
                          placeholder=f"project default ({'/'.join(map(str, defaults.split))})")
    scrub = c6.selectbox("Scrub PII", ["project default", "on", "off"], key=K + "scrub_pii",
                         help=f"project default: {'on' if defaults.scrub_pii else 'off'}")
    c7, c8, _ = st.columns(3)
    min_candidates = c7.number_input("Skip records with fewer candidate replies than", min_value=0, value=0,
                                     step=1, key=K + "min_candidates")
    max_candidates = c8.number_input("Skip records with more candidate replies than", min_value=0, value=None,
                                     step=1, key=K + "max_candidates", placeholder="no limit")
    return {
        "format": fmt, "skip_invalid": skip_invalid, "dedup_prefix": dedup_prefix, "max_per_user": max_per_user,
        "split": split.strip() or None, "scrub_pii": {"on": True, "off": False}.get(scrub),
        "min_candidates": int(min_candidates), "max_candidates": max_candidates,
    }


def _run_import(actor, project: str, name: str, data: bytes, options: dict[str, Any]) -> None:  # noqa: ANN001
    """Import the upload from a temporary folder (removed afterwards); remember the report and rejects."""
    total = data.count(b"\n") + (not data.endswith(b"\n")) if not name.endswith(".gz") else None
    st.session_state.pop(LAST, None)
    with tempfile.TemporaryDirectory(prefix="labeler-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        rejects_path = Path(folder) / f"{name.removesuffix('.gz')}.rejects.jsonl"
        request = ImportOptions(**options, rejects_path=rejects_path, source=name)
        with st.status(f"Importing `{name}` into `{project}`…", expanded=True) as status:
            bar = st.progress(0.0, text="reading")

            def progress(line: int) -> None:
                if line < 0:
                    bar.progress(1.0, text="done")
                elif total:
                    bar.progress(min(line / total, 1.0), text=f"line {line:,} of {total:,}")
                else:
                    bar.progress(0.5, text=f"line {line:,}")

            ok, report = _import(actor, project, path, request, progress)
            status.update(label=f"Imported `{name}`" if ok else f"Import of `{name}` refused: nothing was imported",
                          state="complete" if ok else "error", expanded=not ok)
        if not ok:
            return
        rejects = rejects_path.read_bytes() if report.rejects_path and rejects_path.exists() else b""
    result = report.model_dump(mode="json")
    result["file"] = name
    st.session_state[LAST] = {"project": project, "report": result, "rejects": rejects,
                              "rejects_name": rejects_path.name}
    deps.flash(f"Imported {report.prompts_added:,} prompt(s) from `{name}` into `{project}`.")
    st.rerun()


def _import(actor, project: str, path: Path, request: ImportOptions, progress) -> tuple[bool, Any]:  # noqa: ANN001
    """Run the import in its own transaction; a refusal is shown one problem per line, in this page's words."""
    try:
        with deps.session() as s:
            return True, import_file(s, actor, project, path, request, progress=progress)
    except LabelerError as e:
        message = str(e).replace("use --skip-invalid", "tick “Skip invalid records”")
        st.error(message.replace("\n", "  \n"))  # markdown line breaks: one rejected record per line
        return False, None


def _show_last() -> None:
    last = st.session_state.get(LAST)
    if not last:
        return
    r = last["report"]
    st.subheader(f"Result: `{r['file']}` into `{last['project']}`")
    st.caption(f"format {r['format']}, {r['records']:,} record(s) read in {r['seconds']:.1f} s")
    cols = st.columns(4)
    cols[0].metric("Prompts added", f"{r['prompts_added']:,}")
    cols[1].metric("Candidates added", f"{r['candidates_added']:,}")
    cols[2].metric("Rankings added", f"{r['rankings_added']:,}")
    cols[3].metric("Demonstrations added", f"{r['demonstrations_added']:,}")
    counts = {
        "duplicates (same text)": r["duplicates_exact"], "duplicates (long common prefix)": r["duplicates_prefix"],
        "over the per-user cap": r["over_user_cap"], "rejected": r["rejected"],
        **{notice_label(k): n for k, n in r["skipped"].items()},
        **{f"PII replaced ({k})": n for k, n in r["pii"].items()},
        **{f"new prompts in {k}": n for k, n in sorted(r["by_split"].items())},
    }
    st.dataframe([{"what": k, "count": n} for k, n in counts.items() if n], hide_index=True, key=K + "counts")
    if last["rejects"]:
        lines = last["rejects"].splitlines()
        st.markdown(f"**Rejected records: {len(lines):,}** (not imported)")
        rows = []
        for raw in lines[:SHOWN_REJECTS]:
            reject = orjson.loads(raw)
            rows.append({"line": reject["line"], "field": reject.get("field") or "", "reason": reject["message"]})
        st.dataframe(rows, hide_index=True, width="stretch", key=K + "rejects")
        if len(lines) > SHOWN_REJECTS:
            st.caption(f"The first {SHOWN_REJECTS:,} are shown; the download has all of them.")
        st.download_button("Download the rejects (JSONL, with reasons)", data=last["rejects"],
                           file_name=last["rejects_name"], mime="application/jsonl", key=K + "download_rejects")


def render_import() -> None:
    """The import page; the service refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Import")
    ok, projects = deps.call(admin_projects, actor, write=False)  # refuses anyone but an admin
    if not ok:
        return
    if not projects:
        st.info("No projects yet: create one on the Projects page first.")
        return
    by_name = {p.name: p for p in projects}
    project = tasks.select_project(list(by_name), K + "project")
    upload = st.file_uploader("File (.jsonl, .json, .csv, optionally .gz)", key=K + "file",
                              type=["jsonl", "json", "csv", "txt", "gz"])
    options = _options(settings_of(by_name[project]))
    if st.button("Import", key=K + "run", type="primary", icon=":material/upload:", disabled=upload is None):
        _run_import(actor, project, safe_name(upload.name), upload.getvalue(), options)
    _show_last()


render_import()
