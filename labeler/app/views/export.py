"""Export (admins): pick a format and filters, preview, export with validation, download, history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from labeler.app import deps
from labeler.errors import LabelerError
from labeler.services.export import (
    ExportFilters,
    ExportRequest,
    date_filter,
    export_dataset,
    export_folder,
    export_formats,
    list_exports,
    preview_export,
    read_export_file,
)
from labeler.services.projects import list_projects, settings_of

K = "export."  # session_state namespace of this page


def _follow_default_folder(default: str) -> None:
    """Offer a folder named after the chosen project and format, unless the admin typed their own."""
    state = st.session_state
    offered = state.get(K + "folder.offered")
    if K + "folder" not in state or state[K + "folder"] == offered:
        if not (offered and offered.rsplit("-", 2)[0] == default.rsplit("-", 2)[0]):  # same choice: keep the time
            state[K + "folder"] = default
            state[K + "folder.offered"] = default


def _request(actor, project: str, fmt: dict, folder_name: str) -> ExportRequest | None:  # noqa: ANN001
    """The form's values as an export request (None when the folder name is refused)."""
    c1, c2, c3 = st.columns(3)
    statuses = c1.multiselect("Status", ["submitted", "accepted"], default=["submitted", "accepted"], key=K + "status")
    origins = c2.multiselect("Source", ["human", "imported"], key=K + "source", placeholder="both")
    splits = c3.multiselect("Split", ["train", "valid", "test"], key=K + "split", placeholder="all")
    c4, c5, c6 = st.columns(3)
    labelers = c4.text_input("Labelers (comma-separated)", key=K + "labelers")
    since = c5.date_input("Submitted from", value=None, key=K + "since")
    until = c6.date_input("Submitted until (inclusive)", value=None, key=K + "until")
    options: dict = {}
    if "aggregate" in fmt["options"]:
        options["aggregate"] = st.segmented_control(
            "Several labelers per prompt", ["per-labeler", "consensus"], default="per-labeler", key=K + "aggregate"
        ) or "per-labeler"
    if "exclude_flags" in fmt["options"]:
        ok, projects = deps.call(list_projects, actor, write=False)
        flags = next((settings_of(p).flags for p in projects if p.name == project), []) if ok else []
        options["exclude_flags"] = st.multiselect("Leave out candidates flagged", flags, key=K + "flags")
    if "weight_non_human" in fmt["options"]:
        options["weight_non_human"] = st.checkbox("Train only on turns a labeler wrote (weight 0 on the rest)",
                                                  key=K + "weight")
    if "allow_overlap" in fmt["options"]:
        options["allow_overlap"] = st.checkbox("Also prompts used for the SFT and reward-model sets",
                                               key=K + "overlap")
    if "models" in fmt["options"]:  # model-comparison (services/compare.py)
        st.caption("Models are compared on labelers' rankings only, unless the source includes `imported`.")
        typed = st.text_input("Models (comma-separated; default all)", key=K + "models")
        options["models"] = [m.strip() for m in typed.split(",") if m.strip()]
    if "reward_model" in fmt["options"]:
        options["reward_model"] = st.text_input("Judged by reward model (default: humans)", key=K + "rm") or None
    if fmt["source"] == "demonstrations":  # services/augment.py: kept paraphrases reuse the source's answer
        options["include_paraphrases"] = st.checkbox("Also kept paraphrases, with their source's demonstration "
                                                     "(counted as augmented)", key=K + "paraphrases")
    parquet = st.checkbox("Also write Parquet", key=K + "parquet")
    target_model = st.text_input("Check token counts against model (optional)", key=K + "model") or None
    try:
        out_dir = export_folder(folder_name)
    except LabelerError as e:
        st.error(str(e))
        return None
    return ExportRequest(
        format=fmt["name"], project=project, out_dir=out_dir, parquet=parquet, target_model=target_model,
        filters=ExportFilters(statuses=statuses, origins=origins, splits=splits,
                              labelers=[x.strip() for x in labelers.split(",") if x.strip()],
                              since=date_filter(since, "submitted from"),
                              until=date_filter(until, "submitted until", until=True)),
        **options,
    )


def render_export() -> None:
    """The export page; every service call refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Export")
    ok, _ = deps.call(list_exports, actor, write=False)  # admins only: refuse anyone else up front
    if not ok:
        return
    ok, projects = deps.call(list_projects, actor, write=False)
    if not ok:
        return
    if not projects:
        st.info("No projects yet.")
        return
    formats = export_formats()
    by_name = {f["name"]: f for f in formats}
    project = st.selectbox("Project", [p.name for p in projects], key=K + "project")
    name = st.selectbox("Format", list(by_name), key=K + "format",
                        format_func=lambda n: f"{n} ({by_name[n]['source']})")
    fmt = by_name[name]
    st.caption(fmt["description"])
    _follow_default_folder(f"{project}-{name}-{datetime.now(UTC):%Y%m%d-%H%M}")
    folder_name = st.text_input("Folder (inside the export folder)", key=K + "folder")
    request = _request(actor, project, fmt, folder_name)
    if request is None:
        return
    preview_col, export_col = st.columns(2)
    if preview_col.button("Preview", key=K + "preview", icon=":material/visibility:"):
        ok, records = deps.call(preview_export, actor, request, 5, write=False)
        if ok:
            st.session_state[K + "preview.records"] = records
    if export_col.button("Export", key=K + "run", type="primary", icon=":material/download:"):
        with st.status(f"Exporting `{name}`…", expanded=True) as status:
            bar = st.progress(0.0, text="writing records")
            ok, summary = deps.call(export_dataset, actor, request,
                                    progress=lambda n: bar.progress(0.5, text=f"{n:,} records written"))
            status.update(label="Export written" if ok else "Export refused", state="complete" if ok else "error")
        if ok:
            st.session_state[K + "last"] = summary.model_dump(mode="json")
    _show_preview()
    _show_last(actor)
    _show_history(actor, project)


def _show_preview() -> None:
    records = st.session_state.get(K + "preview.records")
    if records is not None:
        st.subheader("Preview: the first records")
        if not records:
            st.info("No records: nothing matches these filters.")
        for record in records:
            st.json(record, expanded=False)


def _show_last(actor) -> None:  # noqa: ANN001
    last = st.session_state.get(K + "last")
    if not last:
        return
    counts = ", ".join(f"{k} {v}" for k, v in last["counts"].items()) or "no records"
    st.success(f"Export #{last['id']} written to {last['path']}: {counts}. "
               f"Validation: {last['warnings']} warning(s), no errors.")
    folder = Path(last["path"])
    for entry in [{"path": "manifest.json"}, {"path": "README.md"}, *last["files"]]:
        try:
            data = read_export_file(actor, folder, entry["path"])
        except (LabelerError, OSError) as e:  # refused, or the file was removed meanwhile
            st.error(str(e))
            continue
        st.download_button(f"Download {entry['path']}", data=data, file_name=entry["path"],
                           key=K + "dl." + entry["path"])


def _show_history(actor, project: str) -> None:  # noqa: ANN001
    ok, history = deps.call(list_exports, actor, project, write=False)
    if ok and history:
        st.subheader("History")
        st.dataframe([{"id": e.id, "when": e.created_at, "format": e.format, "counts": e.counts, "folder": e.path}
                      for e in history], hide_index=True, width="stretch")


render_export()
