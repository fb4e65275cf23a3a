"""Exports: stream rows from the store into the pure formats of `exports/`, and keep a history.

Design constraints:
- Memory stays flat: rankings and their items are streamed (`_ranking_groups`), so nothing is
  ever held whole. Rows come ordered by prompt, so the consensus mode can merge a prompt's
  rankings as they pass.
- The writer validates its own output and writes all or nothing; an invalid export raises
  Invalid with the validation report and leaves no file.
- Every export is recorded (format, filters, counts, sha256 of each file), so it can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.orm import Session, aliased

import db as _db_package
import exports as _exports_package
import labeler as _labeler_package
from db.models import (
    Assignment,
    Candidate,
    Demonstration,
    Export,
    GoldTask,
    Project,
    Prompt,
    Ranking,
    RankingItem,
    User,
)
from exports import (
    FORMATS,
    DemonstrationRow,
    ExportError,
    Format,
    InvalidExport,
    RankedItem,
    RankingRow,
    choose_legacy_markers,
    get_format,
    legacy_texts,
    write_export,
)
from exports.comparison import ComparisonRow
from exports.prompts import PromptRow, reference_of
from exports.rows import timestamp
from labeler import __version__
from labeler.config import get_settings
from labeler.errors import Invalid
from labeler.hygiene import root_key
from labeler.services.actors import Actor, require_admin
from labeler.services.compare import comparison_of
from labeler.services.events import record_event
from labeler.services.projects import get_project_or_raise
from labeler.services.scope import scope_rows
from labeler.services.streaming import CHUNK, stream_rows


class ExportFilters(BaseModel):
    """Which work goes into an export; empty lists mean "all"; `since` <= submitted_at < `until`.

    Give the bounds through `date_filter`, which says what a day means (both days included).
    """

    statuses: list[Literal["submitted", "accepted"]] = Field(default_factory=lambda: ["submitted", "accepted"])
    origins: list[Literal["human", "imported"]] = Field(default_factory=list)
    splits: list[Literal["train", "valid", "test"]] = Field(default_factory=list)
    labelers: list[str] = Field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None


class ExportRequest(BaseModel):
    """One export: format, destination, filters and format options."""

    format: str
    project: str
    out_dir: Path
    filters: ExportFilters = Field(default_factory=ExportFilters)
    aggregate: Literal["per-labeler", "consensus"] = "per-labeler"
    exclude_flags: list[str] = Field(default_factory=list)
    weight_non_human: bool = False
    parquet: bool = False
    target_model: str | None = None
    allow_overlap: bool = False  # prompt formats: also prompts the SFT/RM sets of the same filters use
    include_paraphrases: bool = False  # kept paraphrases reuse their source's demonstrations (augmented)
    models: list[str] = Field(default_factory=list)  # model-comparison: the models compared (default all)
    reward_model: str | None = None  # model-comparison: judged by this reward model's scores, not by humans


class ExportSummary(BaseModel):
    """What an export wrote, for the CLI and the app."""

    id: int
    format: str
    path: str
    counts: dict[str, int]
    files: list[dict[str, Any]]
    warnings: int = 0


Progress = Callable[[int], None]


def date_filter(value: str | date | datetime | None, option: str, *, until: bool = False) -> datetime | None:
    """A `since` / `until` bound, with one meaning everywhere (CLI, app, services).

    A day (`2026-12-01`, or a date) is a whole day and both ends include theirs: `since` starts at
    its 00:00 UTC, `until` ends at the next day's 00:00 (so `--until 2026-12-01` keeps work of
    1 December). A time (`2026-12-01T08:00`) is exact: `since` at or after it, `until` before it.
    Times without a zone are UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(f"{option}: expected a date like 2026-11-23 or 2026-11-23T08:00, got `{value}`") from None
        value = parsed
    if not isinstance(value, datetime):  # a whole day
        start = datetime.combine(value, time.min, tzinfo=UTC)
        return start + timedelta(days=1) if until else start
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _source_rows(session: Session, project_id: int, request: ExportRequest, source: str
                 ) -> tuple[Callable[[], Iterator[Any]], dict[str, int] | None]:
    """The rows a format reads, as a function that streams them anew at each call (the writer may pass
    twice); with paraphrases, also the count of augmented records (complete after the last pass)."""
    rows: Callable[[], Iterator[Any]]
    if source == "rankings":
        rows = lambda: ranking_rows(session, project_id, request.filters)  # noqa: E731
    elif source == "prompts":
        rows = lambda: prompt_rows(session, project_id, request.filters,  # noqa: E731
                                   allow_overlap=request.allow_overlap)
    elif source == "scope":
        rows = lambda: scope_rows(session, project_id, request.filters.splits)  # noqa: E731
    elif source == "comparison":
        report = _comparison_report(session, project_id, request)  # once: the writer may pass twice
        rows = lambda: iter([report])  # noqa: E731
    else:
        rows = lambda: demonstration_rows(session, project_id, request.filters)  # noqa: E731
    if request.include_paraphrases:
        return _with_paraphrases(session, project_id, request, source, rows)
    return rows, None


def _format_of(session: Session, actor: Actor, request: ExportRequest) -> tuple[Project, Format, dict[str, Any]]:
    """(project, format, options) of a request, checked (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, request.project)
    if request.format not in FORMATS:
        raise Invalid(f"unknown export format `{request.format}`: expected one of {', '.join(FORMATS)}")
    fmt = get_format(request.format)
    return project, fmt, _options(request, fmt.options)


def export_dataset(
    session: Session, actor: Actor, request: ExportRequest, progress: Progress | None = None
) -> ExportSummary:
    """Write one export (admins only); Invalid, and no file, when the output would be invalid."""
    project, fmt, options = _format_of(session, actor, request)
    refuse_package_folder(request.out_dir)
    rows, augmented = _source_rows(session, project.id, request, fmt.source)
    if fmt.name == "openai-legacy":  # markers must appear nowhere in the data: a first pass finds them
        options["separator"], options["stop"] = choose_legacy_markers(legacy_texts(rows()))
    filters = {"project": project.name, **request.filters.model_dump(mode="json")}
    if request.include_paraphrases:
        filters["include_paraphrases"] = True
    try:
        result = write_export(
            request.out_dir, fmt.name, rows(), options=options, filters=filters, labeler_version=__version__,
            parquet=request.parquet, target_model=request.target_model, progress=progress,
        )
    except InvalidExport as e:
        report = "\n".join(r.to_text() for r in e.reports)
        raise Invalid(f"the `{fmt.name}` export would be invalid; nothing was written:\n{report}") from None
    except ExportError as e:
        raise Invalid(str(e)) from None
    except OSError as e:  # a full disk, a read-only or vanished folder: the writer removed its temporary files
        raise Invalid(f"could not write the export to {request.out_dir}: {e.strerror or e}; nothing was written "
                      "(free some disk space or choose another folder)") from None
    manifest = result.manifest
    if augmented is not None:  # records reusing a source's demonstration with a kept paraphrase
        manifest["counts"] = {**manifest["counts"], "augmented": augmented["n"]}
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    record = Export(
        project_id=project.id, format=fmt.name, filters=filters, counts=manifest["counts"], files=files,
        path=str(Path(request.out_dir).resolve()), tool_version=__version__, created_by=actor.id,
    )
    session.add(record)
    session.flush()
    record_event(session, actor, "export", "project", project.id, format=fmt.name, counts=manifest["counts"])
    warnings = sum(len(r.warnings) for r in result.reports.values())
    return ExportSummary(id=record.id, format=fmt.name, path=record.path, counts=manifest["counts"],
                         files=manifest["files"], warnings=warnings)


def _options(request: ExportRequest, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The format options the request sets, refusing ones the format does not take."""
    given: dict[str, Any] = {}
    if request.aggregate != "per-labeler":
        given["aggregate"] = request.aggregate
    if request.exclude_flags:
        given["exclude_flags"] = sorted(request.exclude_flags)
    if request.weight_non_human:
        given["weight_non_human"] = True
    if request.allow_overlap:
        given["allow_overlap"] = True
    if request.models:
        given["models"] = list(request.models)
    if request.reward_model:
        given["reward_model"] = request.reward_model
    for name in given:
        if name not in allowed:
            raise Invalid(f"format `{request.format}` does not take `{name.replace('_', '-')}`")
    if "aggregate" in allowed and "aggregate" not in given:
        given["aggregate"] = "per-labeler"
    if "allow_overlap" in allowed and "allow_overlap" not in given:  # the manifest says which prompts
        given["allow_overlap"] = False
    return given


def _comparison_report(session: Session, project_id: int, request: ExportRequest) -> ComparisonRow:
    """The `model-comparison` row: the report under the export's filters (human rankings unless `imported`
    is among the sources; statuses submitted and accepted; no labeler or date filters)."""
    f = request.filters
    unsupported = [name for name, given in (("labeler", f.labelers), ("since", f.since), ("until", f.until),
                                            ("status", set(f.statuses) != {"submitted", "accepted"})) if given]
    if unsupported:
        raise Invalid(f"format `{request.format}` does not take `{unsupported[0]}` (it compares the submitted and "
                      "accepted rankings of the chosen splits and sources)")
    project = session.get(Project, project_id)
    report = comparison_of(session, project, models=request.models, splits=f.splits,  # type: ignore[arg-type]
                           include_imported="imported" in f.origins, reward_model=request.reward_model)
    if not report.comparison.models:
        raise Invalid(f"no rows match: no comparisons between models in `{project.name}`, so the "
                      f"`{request.format}` export would be empty; nothing was written")
    return ComparisonRow(report.to_dict())


def preview_export(session: Session, actor: Actor, request: ExportRequest, limit: int = 5) -> list[dict[str, Any]]:
    """The first records the export would write, without writing anything (admins only)."""
    project, fmt, options = _format_of(session, actor, request)
    rows, _ = _source_rows(session, project.id, request, fmt.source)
    if fmt.name == "openai-legacy":
        options["separator"], options["stop"] = "\n\n###\n\n", " END"  # a preview needs no scan of the data
    try:
        return list(islice(fmt.fn(rows(), **options), limit))
    except ExportError as e:
        raise Invalid(str(e)) from None


def export_formats() -> list[dict[str, Any]]:
    """Every export format with what it reads, its options and an example line (for the app)."""
    return [{"name": f.name, "source": f.source, "options": list(f.options), "description": f.description,
             "example": f.example} for f in FORMATS.values()]


def refuse_package_folder(folder: str | Path) -> None:
    """Invalid when `folder` lies inside one of the tool's installed packages.

    An export there would land beside the code: from a checkout, the old default `./exports` was the
    exporters' own Python package.
    """
    target = Path(folder).expanduser().resolve()
    for package in (_labeler_package, _exports_package, _db_package):
        root = Path(package.__file__).parent.resolve()
        if target == root or root in target.parents:
            raise Invalid(f"export folder {target} is inside the installed `{package.__name__}` package: "
                          f"choose a folder outside it (the app's default is {get_settings().export_dir})")


def export_folder(name: str) -> Path:
    """`name` as a folder inside the configured export folder; Invalid when it would escape it."""
    root = get_settings().export_dir.resolve()
    refuse_package_folder(root)
    if not name.strip():
        raise Invalid("export folder: give a name")
    target = (root / name.strip()).resolve()
    if target == root or root not in target.parents:
        raise Invalid(f"export folder `{name}` must stay inside {root}")
    return target


def read_export_file(actor: Actor, folder: Path, name: str) -> bytes:
    """The bytes of one file of an export folder, for a download button (admins only)."""
    require_admin(actor)
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise Invalid(f"`{name}` is not a file of this export")
    return path.read_bytes()


def list_exports(session: Session, actor: Actor, project_name: str | None = None) -> list[Export]:
    """Past exports, newest first (admins only)."""
    require_admin(actor)
    query = select(Export).order_by(Export.id.desc())
    if project_name:
        query = query.where(Export.project_id == get_project_or_raise(session, project_name).id)
    return list(session.scalars(query))


def _filtered(query: Select, model: type[Ranking] | type[Demonstration], project_id: int,
              filters: ExportFilters, prompt_list: bool = False) -> Select:
    """`query` narrowed to the project's exportable rows of `model` (status, gold, filters).

    `prompt_list`: the project as a list of prompt ids, for a query ordered by prompt on SQLite: it
    then walks that sorted list and each prompt's rows by index, already in order, instead of
    sorting every row of the export (PostgreSQL is slower with it).
    """
    in_project = (model.prompt_id.in_(select(Prompt.id).where(Prompt.project_id == project_id)) if prompt_list
                  else Prompt.project_id == project_id)
    query = query.where(in_project, model.status.in_(filters.statuses))
    # Gold results (services/gold.py) measure labelers; they are never training data. Written as
    # NOT IN, not NOT EXISTS: PostgreSQL estimates the anti-join at one row and then sorts a whole
    # export on disk before its first row, where with NOT IN it walks rankings in prompt order.
    gold = select(Assignment.id).where(Assignment.gold.is_not(None))
    query = query.where(model.assignment_id.is_(None) | model.assignment_id.not_in(gold))
    if filters.origins:
        query = query.where(model.origin.in_(filters.origins))
    if filters.splits:
        query = query.where(Prompt.split.in_(filters.splits))
    if filters.since:
        query = query.where(model.submitted_at >= filters.since)
    if filters.until:
        query = query.where(model.submitted_at < filters.until)
    if filters.labelers:
        query = query.where(User.username.in_(filters.labelers))
    return query


RANKING_COLUMNS = (  # JSON as text: decoded once per ranking (`_decoded`), whatever the backend
    Ranking.id, Ranking.prompt_id, Prompt.split, cast(Prompt.messages, Text), Prompt.external_id, User.username,
    Ranking.origin, Ranking.status, Ranking.none_acceptable, Ranking.submitted_at, cast(Ranking.meta, Text),
    Prompt.source, Prompt.origin_user, Prompt.content_hash,
)
ITEM_COLUMNS = (RankingItem.ranking_id, RankingItem.candidate_id, Candidate.text, Candidate.model, RankingItem.rank,
                RankingItem.likert, cast(RankingItem.flags, Text), RankingItem.position)
ITEM_ORDER = (RankingItem.position, RankingItem.candidate_id)


def ranking_rows(session: Session, project_id: int, filters: ExportFilters) -> Iterator[RankingRow]:
    """Rankings as export rows, ordered by prompt then ranking, each with its items in display order."""
    keys = _SplitKeys()
    for ranking, items in _ranking_groups(session, project_id, filters):
        rid, pid, split, messages, ext, labeler, origin, status, none_ok, at, meta, source, user, chash = ranking
        messages = orjson.loads(messages)
        meta = orjson.loads(meta) if meta else {}
        ranked = [RankedItem(candidate_id=cid, text=text, model=model, rank=rank, likert=likert,
                             flags=_flags(flags), position=position)
                  for _, cid, text, model, rank, likert, flags, position in items]
        margins = {(b, w): float(m) for b, w, m in meta["margins"]} if meta and meta.get("margins") else None
        key, by = keys.of(pid, user, messages, chash)
        yield RankingRow(
            ranking_id=rid, prompt_id=pid, split=split, messages=messages, items=ranked, external_id=ext,
            labeler=labeler, origin=origin, status=status, none_acceptable=none_ok,
            submitted_at=timestamp(at), margins=margins, time_source=meta.get("time") if meta else None,
            source=source, split_key=key, split_by=by,
        )


def _ranking_groups(session: Session, project_id: int, filters: ExportFilters
                    ) -> Iterator[tuple[Sequence[Any], list[Sequence[Any]]]]:
    """`(ranking columns, [item columns, ...])` per ranking (RANKING_COLUMNS, ITEM_COLUMNS), in order.
    A ranking without items has an empty list.

    PostgreSQL streams one joined query (`streaming`). SQLite reads two queries in the same order
    and merges them as they pass: its sorter is much slower on the joined query's wide rows.
    """
    sqlite = session.connection().dialect.name == "sqlite"
    rankings = _filtered(
        select(*RANKING_COLUMNS).join(Prompt, Prompt.id == Ranking.prompt_id)
        .outerjoin(User, User.id == Ranking.labeler_id),
        Ranking, project_id, filters, prompt_list=sqlite,
    )
    if not sqlite:  # PostgreSQL
        joined = (rankings.add_columns(*ITEM_COLUMNS)
                  .outerjoin(RankingItem, RankingItem.ranking_id == Ranking.id)
                  .outerjoin(Candidate, Candidate.id == RankingItem.candidate_id)
                  .order_by(Ranking.prompt_id, Ranking.id, *ITEM_ORDER))
        width = len(RANKING_COLUMNS)
        current: Sequence[Any] | None = None
        items: list[Sequence[Any]] = []
        for row in stream_rows(session, joined):
            if current is None or row[0] != current[0]:
                if current is not None:
                    yield current, items
                current, items = row[:width], []
            if row[width] is not None:  # a ranking without items has one row of NULL item columns
                items.append(row[width:])
        if current is not None:
            yield current, items
        return
    conn = session.connection()  # Core: plain columns, no ORM loading needed
    item_query = _filtered(
        select(*ITEM_COLUMNS)
        .join(Ranking, Ranking.id == RankingItem.ranking_id)
        .join(Prompt, Prompt.id == Ranking.prompt_id)
        .join(Candidate, Candidate.id == RankingItem.candidate_id)
        .outerjoin(User, User.id == Ranking.labeler_id),
        Ranking, project_id, filters, prompt_list=sqlite,
    ).order_by(Ranking.prompt_id, Ranking.id, *ITEM_ORDER)
    item_rows = iter(conn.execute(item_query, execution_options={"yield_per": CHUNK}))
    pending = next(item_rows, None)
    ranking_query = rankings.order_by(Ranking.prompt_id, Ranking.id)
    for ranking in conn.execute(ranking_query, execution_options={"yield_per": CHUNK}):
        rid, items = ranking[0], []
        while pending is not None and pending[0] == rid:
            items.append(pending)
            pending = next(item_rows, None)
        yield ranking, items


def demonstration_rows(session: Session, project_id: int, filters: ExportFilters) -> Iterator[DemonstrationRow]:
    """Demonstrations as export rows, ordered by prompt, streamed in chunks."""
    query = _filtered(
        select(Demonstration.id, Demonstration.prompt_id, Prompt.split, Prompt.messages, Prompt.external_id,
               Demonstration.turns, Demonstration.suggestion, User.username, Demonstration.origin,
               Demonstration.status, Demonstration.submitted_at, Prompt.source, Prompt.origin_user,
               Prompt.content_hash)
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .outerjoin(User, User.id == Demonstration.labeler_id),
        Demonstration, project_id, filters,
    ).order_by(Demonstration.prompt_id, Demonstration.id)
    rows = session.connection().execute(query, execution_options={"yield_per": CHUNK})
    keys = _SplitKeys()
    for did, pid, split, messages, ext, turns, suggestion, labeler, origin, status, at, source, user, chash in rows:
        key, by = keys.of(pid, user, messages, chash)
        yield DemonstrationRow(
            demonstration_id=did, prompt_id=pid, split=split, messages=messages, turns=turns, external_id=ext,
            labeler=labeler, origin=origin, status=status, submitted_at=timestamp(at),
            human_turns=human_turns(turns, suggestion), source=source, split_key=key, split_by=by,
        )


# --- Paraphrase augmentation (labeler.services.augment) -----------------------------------------------


def _with_paraphrases(session: Session, project_id: int, request: ExportRequest, source: str,
                      rows: Callable[[], Iterator[Any]]) -> tuple[Callable[[], Iterator[Any]], dict[str, int]]:
    """The demonstration rows followed by their kept paraphrases' rows; `n` counts the latter (last pass)."""
    if source != "demonstrations":
        raise Invalid(f"format `{request.format}` does not take `include-paraphrases` (demonstration formats do)")
    counter = {"n": 0}

    def chained() -> Iterator[Any]:
        yield from rows()
        counter["n"] = 0
        for row in paraphrase_rows(session, project_id, request.filters):
            counter["n"] += 1
            yield row

    return chained, counter


def paraphrase_rows(session: Session, project_id: int, filters: ExportFilters) -> Iterator[DemonstrationRow]:
    """Each kept paraphrase with each demonstration of its source (origin `augmented`), by paraphrase."""
    para = aliased(Prompt)
    query = _filtered(
        select(Demonstration.id, para.id, para.split, para.messages, para.external_id, Demonstration.turns,
               Demonstration.suggestion, User.username, Demonstration.status, Demonstration.submitted_at,
               Prompt.source, Prompt.origin_user, Prompt.messages)
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .join(para, (para.source_prompt_id == Prompt.id) & (para.paraphrase_status == "kept"))
        .outerjoin(User, User.id == Demonstration.labeler_id),
        Demonstration, project_id, filters,
    ).order_by(para.id, Demonstration.id)
    rows = session.connection().execute(query, execution_options={"yield_per": CHUNK})
    keys = _SplitKeys()
    for did, pid, split, messages, ext, turns, suggestion, labeler, status, at, source, user, original in rows:
        key, by = keys.of(pid, user, original)  # a paraphrase takes its source's split
        yield DemonstrationRow(
            demonstration_id=did, prompt_id=pid, split=split, messages=messages, turns=turns, external_id=ext,
            labeler=labeler, origin="augmented", status=status, submitted_at=timestamp(at),
            human_turns=human_turns(turns, suggestion), source=source, split_key=key, split_by=by,
        )


# --- Prompt-only rows (the RL stage: formats `prompts`, `openai-rft`) -----------------------------------


def prompt_rows(session: Session, project_id: int, filters: ExportFilters, *,
                allow_overlap: bool = False) -> Iterator[PromptRow]:
    """The project's prompts as export rows, by id, streamed; `filters.splits` selects splits.

    Unless `allow_overlap`, a prompt is left out when the SFT or reward-model exports under the same
    filters (statuses, sources, labelers, dates) would use it: it has such a demonstration or ranking
    (InstructGPT kept its SFT, RM and PPO prompt sets apart). A kept paraphrase counts as used when its
    source is (SFT exports reuse the source's demonstration for it); pending and rejected paraphrases,
    and gold prompts, are never exported.
    """
    query = select(Prompt.id, Prompt.split, Prompt.messages, Prompt.external_id, Prompt.meta, Prompt.source,
                   Prompt.origin_user).where(
        Prompt.project_id == project_id, ~Prompt.id.in_(select(GoldTask.prompt_id)),
        Prompt.source_prompt_id.is_(None) | (Prompt.paraphrase_status == "kept"))
    if filters.splits:
        query = query.where(Prompt.split.in_(filters.splits))
    if not allow_overlap:
        own_or_source = func.coalesce(Prompt.source_prompt_id, Prompt.id)  # paraphrases are never labeled
        for model in (Demonstration, Ranking):
            used = _filtered(select(model.id).outerjoin(User, User.id == model.labeler_id)
                             .where(model.prompt_id == own_or_source), model, project_id, filters)
            query = query.where(~used.exists())  # correlated to the outer prompt: an anti-join
    rows = session.connection().execute(query.order_by(Prompt.id), execution_options={"yield_per": CHUNK})
    keys = _SplitKeys()
    for pid, split, messages, ext, meta, source, user in rows:
        key, by = keys.of(pid, user, messages)
        yield PromptRow(prompt_id=pid, split=split, messages=messages, external_id=ext, reference=reference_of(meta),
                        source=source, split_key=key, split_by=by)


def _flags(stored: str | None) -> tuple[str, ...]:
    """An item's flags from their JSON text: most items have none, and decoding `[]` for each of a
    million items through the JSON column type was a tenth of a large export's time."""
    return () if stored is None or stored == "[]" else tuple(orjson.loads(stored))


class _SplitKeys:
    """What decided each prompt's split (`hygiene.split_key`), remembered for the prompt's next rows."""

    def __init__(self) -> None:
        self.last: tuple[int, str, str] | None = None

    def of(self, prompt_id: int, origin_user: str | None, messages: list[Any], chash: str | None = None
           ) -> tuple[str, str]:
        """`(key, "user" | "root")` for one prompt; rows come grouped by prompt, so one entry suffices.

        `chash`, the prompt's stored content hash, is a single-turn prompt's root (no re-normalizing).
        """
        if self.last is not None and self.last[0] == prompt_id:
            return self.last[1], self.last[2]
        key, by = (origin_user, "user") if origin_user is not None else (root_key(messages, chash=chash), "root")
        self.last = (prompt_id, key, by)
        return key, by


def human_turns(turns: list[dict[str, Any]], suggestion: dict[str, Any] | None) -> list[int] | None:
    """Indices of the turns a labeler wrote: a model suggestion kept word for word is not theirs."""
    suggested = (suggestion or {}).get("text")
    if not suggested:
        return None
    return [i for i, t in enumerate(turns) if not (t["role"] == "assistant" and t["content"] == suggested)]
