"""Paraphrase augmentation: N rewordings of each prompt's last user turn, stored as new prompts.

Design constraints:
- **A user of the model engine** (`labeler.services.engine`, beside `generate` and `suggest`): bounded
  concurrency, the backend's retries, per prompt failures, the breaker, a refused key stopping the
  run, group commit and progress are the engine's. This module only plans (`pending`), asks (`work`)
  and stores (`store`).
- **A paraphrase is a prompt**: the source's messages with the last user turn replaced, the same
  `origin_user` and `split` (a user's questions stay in one split, asked any way), `source_prompt_id`
  pointing at the source, `paraphrase_status` `pending` until a labeler keeps or rejects it.
- **The usual dedup**: content hash and prefix hash (`labeler.hygiene`, as `labeler import` computes
  them); a rewording that duplicates a stored prompt, or another rewording, is dropped and counted.
- **Resume**: a prompt that already has paraphrases (or is one) is not asked again.
- **Not labeled**: paraphrases are never leased for labeling (the queue skips them); a kept one feeds
  SFT exports with its source's demonstration (`include_paraphrases`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from db.models import Project, Prompt
from labeler.errors import Conflict, Invalid, NotFound
from labeler.hygiene import content_hash, normalize_text, prefix_hash
from labeler.services import session_scope
from labeler.services.actors import Actor, require_admin, require_role
from labeler.services.bounds import MaxTokens, Temperature
from labeler.services.engine import (
    ChatRequest,
    Progress,
    PromptFailed,
    Result,
    Runner,
    RunOptions,
    RunSettings,
    RunSummary,
    Stored,
    backend_for,
    resolve_run,
)
from labeler.services.events import record_event
from labeler.services.projects import get_project_for, get_project_or_raise, settings_of

MAX_PARAPHRASES = 20
MAX_EXTRA_REQUESTS = 2  # requests beyond N per prompt when a model keeps giving fewer rewordings than asked
STATUSES = ("pending", "kept", "rejected")
SOURCE = "paraphrase"  # prompts.source of a stored paraphrase
INSTRUCTION = (
    "You reword questions. Rewrite the user's message in {n} different ways that ask for exactly the same "
    "thing (same meaning, same details, same language), varying the wording and the sentence structure. "
    "Do not answer it. Reply with exactly {n} lines, numbered 1. to {n}., one rewording per line, and nothing else."
)
_NUMBERED = re.compile(r"^\s*(?:\d{1,3}\s*[.):-]|[-*\u2022])\s*")


class AugmentRequest(RunOptions):
    """What to augment; None means the project's setting (`limit` counts source prompts)."""

    project: str
    paraphrases: Annotated[int, Field(ge=1, le=MAX_PARAPHRASES)] = 3  # rewordings asked per prompt
    model: str | None = None  # default: the project's suggestion_model, else its first generation model
    split: Literal["train", "valid", "test"] | None = None  # only prompts of this split
    temperature: Temperature = 0.9
    max_tokens: MaxTokens = 1024
    dedup_prefix: bool = True  # drop rewordings sharing the project's dedup prefix with a stored prompt


@dataclass
class AugmentSummary(RunSummary):
    """What a run did: `candidates` counts the paraphrases stored, `duplicates` those dropped by dedup.

    `asked` is N for each prompt done, `short` how many of those were not stored (the model ran out of
    new rewordings, or dedup dropped them): asked = stored + short.
    """

    @property
    def paraphrases(self) -> int:
        return self.candidates

    @property
    def asked(self) -> int:
        return self.prompts_done * self.k

    @property
    def short(self) -> int:
        return max(0, self.asked - self.candidates)

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "failed": self.failed, "paraphrases": self.candidates, "asked": self.asked,
                "short": self.short}
        data.pop("candidates")
        data["n"] = data.pop("k")
        return data


@dataclass(frozen=True)
class _Config:
    project: str
    project_id: int
    model: str
    n: int  # rewordings asked per prompt
    params: dict[str, Any]  # temperature, max_tokens
    split: str | None
    prefix_chars: int
    run: RunSettings


@dataclass(frozen=True)
class _Source:
    prompt_id: int
    messages: list[dict[str, Any]]


def resolve_augment(session: Session, actor: Actor, request: AugmentRequest) -> _Config:
    """The request completed from the project's settings (admins only; bounds were checked when it was made)."""
    require_admin(actor)
    project = get_project_or_raise(session, request.project)
    s = settings_of(project)
    model = (request.model or "").strip() or s.suggestion_model or next(iter(s.generation_models), None)
    if not model:
        raise Invalid(f"no model to paraphrase with: pass `--model NAME` or set `suggestion_model` of project "
                      f"`{project.name}`")
    return _Config(project.name, project.id, model, request.paraphrases,
                   {"temperature": request.temperature, "max_tokens": request.max_tokens}, request.split,
                   s.dedup_prefix_chars if request.dedup_prefix else 0, resolve_run(request, s))


def _sources(config: _Config):  # noqa: ANN202 - a select of (id, messages)
    child = aliased(Prompt)
    query = select(Prompt.id, Prompt.messages).where(
        Prompt.project_id == config.project_id,
        Prompt.source_prompt_id.is_(None),
        ~exists().where(child.source_prompt_id == Prompt.id),
    )
    return query.where(Prompt.split == config.split) if config.split else query


def _last_user(messages: list[dict[str, Any]]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user" and isinstance(messages[i].get("content"), str):
            return i
    return None


def parse_paraphrases(text: str, original: str) -> list[str]:
    """The rewordings in a model's answer: one a line, numbering and quotes removed, the original left out."""
    out: list[str] = []
    for line in text.splitlines():
        line = _NUMBERED.sub("", line).strip().strip('"\u201c\u201d').strip()
        if line and line != original.strip() and line not in out:
            out.append(line)
    return out


def _request_messages(n: int, text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": INSTRUCTION.format(n=n)}, {"role": "user", "content": text}]


class _Augment:
    """The engine's hooks for augmentation: plan the sources, ask for rewordings, store them as prompts."""

    stores = "paraphrases"

    def __init__(self, config: _Config) -> None:
        self.config = config

    def pending(self, session: Session, after_id: int, size: int) -> list[_Source]:
        rows = session.execute(_sources(self.config).where(Prompt.id > after_id).order_by(Prompt.id).limit(size))
        return [_Source(pid, list(messages)) for pid, messages in rows]

    async def work(self, run: Runner, source: _Source) -> list[dict[str, Any]]:
        turn = _last_user(source.messages)
        if turn is None:
            raise PromptFailed("no user turn with text to reword")
        original, model, n = source.messages[turn]["content"], self.config.model, self.config.n
        lines: list[str] = []
        # A model may give fewer rewordings than asked: ask again for the rest, as generation tops up a
        # short `n`, until an answer brings nothing new (or a bounded number of requests).
        for _attempt in range(n + MAX_EXTRA_REQUESTS):
            answer = await run.complete(ChatRequest(model=model, messages=_request_messages(n - len(lines), original),
                                                    n=1, **self.config.params))
            got = parse_paraphrases(answer.choices[0].text, original) if answer.choices else []
            new = [line for line in got if line not in lines]
            if not new:
                break
            lines.extend(new)
            if len(lines) >= n:
                break
        if not lines:
            raise PromptFailed(f"`{model}`: no rewording in the answer")
        rows = []
        for line in lines[:n]:
            messages = [*source.messages[:turn], {**source.messages[turn], "content": line},
                        *source.messages[turn + 1:]]
            normalized = normalize_text(messages)
            rows.append({"messages": messages, "content_hash": content_hash(normalized),
                         "prefix_hash": prefix_hash(normalized, self.config.prefix_chars),
                         "meta": {"paraphrase_of": source.prompt_id, "model": model}})
        return rows

    def store(self, session: Session, batch: list[Result]) -> Stored:
        return store_paraphrases(session, self.config.project_id, batch, self.config.prefix_chars)


def store_paraphrases(session: Session, project_id: int, batch: list[Result], prefix_chars: int) -> Stored:
    """Insert each source's new rewordings not already stored (content or prefix hash); (source, stored, dropped)."""
    sources = {p.id: p for p in session.scalars(select(Prompt).where(Prompt.id.in_([r.prompt_id for r in batch])))}
    chashes = {row["content_hash"] for r in batch for row in r.rows}
    phashes = {row["prefix_hash"] for r in batch for row in r.rows if row["prefix_hash"]}
    seen_c = set(session.scalars(select(Prompt.content_hash).where(
        Prompt.project_id == project_id, Prompt.content_hash.in_(chashes))))
    seen_p: set[str | None] = set()
    if prefix_chars and phashes:
        seen_p = set(session.scalars(select(Prompt.prefix_hash).where(
            Prompt.project_id == project_id, Prompt.prefix_hash.in_(phashes))))
        # the source's own prefix hash as stored may be None (imported with prefix dedup off): compare anew
        for source in sources.values():
            seen_p.add(prefix_hash(normalize_text(source.messages), prefix_chars))
    outcome = []
    for result in batch:
        source = sources.get(result.prompt_id)
        if source is None:  # deleted meanwhile
            outcome.append((result.prompt_id, 0, len(result.rows)))
            continue
        new = dropped = 0
        for row in result.rows:
            if row["content_hash"] in seen_c or (row["prefix_hash"] and row["prefix_hash"] in seen_p):
                dropped += 1
                continue
            seen_c.add(row["content_hash"])
            if row["prefix_hash"]:
                seen_p.add(row["prefix_hash"])
            session.add(Prompt(project_id=project_id, messages=row["messages"], source=SOURCE,
                               external_id=None, origin_user=source.origin_user, split=source.split,
                               content_hash=row["content_hash"], prefix_hash=row["prefix_hash"], meta=row["meta"],
                               source_prompt_id=source.id, paraphrase_status="pending"))
            new += 1
        outcome.append((result.prompt_id, new, dropped))
    session.flush()
    return outcome


def count_sources(session: Session, actor: Actor, request: AugmentRequest) -> int:
    """How many prompts a run would ask rewordings for (at most `limit`)."""
    return _count_sources(session, resolve_augment(session, actor, request))


def _count_sources(session: Session, config: _Config) -> int:
    query = _sources(config).with_only_columns(Prompt.id)
    if config.run.limit:
        query = query.limit(config.run.limit)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def run_augment(actor: Actor, request: AugmentRequest, *, url: str | None = None,
                progress: Progress | None = None) -> AugmentSummary:
    """Ask the model for rewordings of the project's prompts and store them as pending paraphrases (admins).

    Owns its transactions like `run_generation`; raises Invalid before any request when there is no
    model or no key.
    """
    require_admin(actor)
    with session_scope(url, write=False) as s:
        config = resolve_augment(s, actor, request)  # resolved once: the count and the run share it
        backend = backend_for(settings_of(get_project_or_raise(s, request.project)), config.run, [config.model])
        total = _count_sources(s, config)
    summary = AugmentSummary(config.project, [config.model], config.n, prompts_planned=total)
    Runner(_Augment(config), backend, summary, concurrency=config.run.concurrency, limit=config.run.limit,
           url=url, progress=progress).run()
    with session_scope(url) as s:
        record_event(s, actor, "augment.run", "project", config.project_id, model=config.model,
                     n=config.n, prompts_done=summary.prompts_done, paraphrases=summary.candidates,
                     duplicates=summary.duplicates, failed=summary.failed, aborted=summary.aborted)
    return summary


# ---------------------------------------------------------------------------------------------
# Review


@dataclass(frozen=True)
class PendingParaphrase:
    """A paraphrase waiting for review, beside its source."""

    id: int
    source_id: int
    source_text: str
    text: str
    split: str
    model: str | None


def list_paraphrases(session: Session, actor: Actor, project_name: str, status: str = "pending",
                     limit: int = 50) -> list[PendingParaphrase]:
    """A project's paraphrases in `status` (oldest first), each with its source's reworded turn."""
    require_role(actor, "labeler", "reviewer", "admin")
    project = get_project_for(session, actor, project_name)
    if status not in STATUSES:
        raise Invalid(f"`status` must be one of {', '.join(STATUSES)}, got `{status}`")
    source = aliased(Prompt)
    rows = session.execute(
        select(Prompt.id, Prompt.messages, Prompt.split, Prompt.meta, source.id, source.messages)
        .join(source, source.id == Prompt.source_prompt_id)
        .where(Prompt.project_id == project.id, Prompt.paraphrase_status == status)
        .order_by(Prompt.id).limit(max(1, min(limit, 500)))
    ).all()
    out = []
    for pid, messages, split, meta, sid, smessages in rows:
        turn, sturn = _last_user(messages), _last_user(smessages)
        out.append(PendingParaphrase(pid, sid, smessages[sturn]["content"] if sturn is not None else "",
                                     messages[turn]["content"] if turn is not None else "", split,
                                     (meta or {}).get("model")))
    return out


def review_paraphrase(session: Session, actor: Actor, prompt_id: int, verdict: str) -> None:
    """Keep or reject a paraphrase (labelers, reviewers, admins of its project)."""
    require_role(actor, "labeler", "reviewer", "admin")
    if verdict not in ("kept", "rejected", "keep", "reject"):
        raise Invalid(f"verdict must be `keep` or `reject`, got `{verdict}`")
    status = "kept" if verdict in ("kept", "keep") else "rejected"
    prompt = session.get(Prompt, prompt_id)
    if prompt is None or prompt.source_prompt_id is None:
        raise NotFound(f"paraphrase `{prompt_id}` not found")
    project = get_project_for(session, actor, _project_name(session, prompt.project_id))
    if prompt.paraphrase_status == status:
        raise Conflict(f"paraphrase `{prompt_id}` is already {status}")
    prompt.paraphrase_status = status
    record_event(session, actor, f"paraphrase.{status}", "prompt", prompt_id, project=project.name,
                 source_prompt_id=prompt.source_prompt_id)


def paraphrase_counts(session: Session, actor: Actor, project_name: str) -> dict[str, int]:
    """Paraphrases per status in a project."""
    require_role(actor, "labeler", "reviewer", "admin")
    project = get_project_for(session, actor, project_name)
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in session.execute(
        select(Prompt.paraphrase_status, func.count())
        .where(Prompt.project_id == project.id, Prompt.source_prompt_id.is_not(None))
        .group_by(Prompt.paraphrase_status)
    ):
        counts[status] = n
    return counts


def _project_name(session: Session, project_id: int) -> str:
    return session.scalar(select(Project.name).where(Project.id == project_id)) or ""
