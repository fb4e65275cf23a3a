"""Reward-model scores: `labeler score` runs a reward model over a project's candidates and stores the scores.

Design constraints:
- **Inference outside transactions**: a short read session takes the next prompts with unscored
  candidates; the model scores them with no session open; a short write session stores a batch's
  scores (and the margins of its prompts). No lock is held while torch runs, so labelers keep working.
- **Resumable, per reward model**: scores are keyed by the reward model's resolved folder
  (`candidate_scores`, unique per model and candidate), so a newer model adds its scores beside the
  old ones; a candidate this model scored is never read again, so an interrupted run continues where
  it stopped, and two runs at once store each score once (insert ... on conflict do nothing).
- **What the model reads**: the prompt's conversation plus the reply as the assistant turn, through
  the tokenizer's chat template (`apply_chat_template`, as TRL's RewardTrainer tokenizes its
  conversational pairs). A longer text keeps its last `max_length` tokens: the reply's end, where a
  sequence-classification model reads its score (the trainer drops longer pairs instead).
- **Margins** (`prompts.rm_margin`, the `uncertain-first` queue's order): the routing reward model's
  score gap between a prompt's two best-scored candidates; `UNSCORED_MARGIN` until two are scored
  (behind every scored prompt in the queue). A run of the
  routing model updates its prompts batch by batch; with no routing model yet, the model scored
  becomes it ("the last one scored"). `recompute_margins` redoes a project's margins in SQL.
- **Optional extra**: torch and transformers are imported only in `load_scorer`; without them the
  error says `pip install 'labeler[local]'`. Tests inject a scorer (any function of conversations).
- Admins only; each run is an event (`score.run`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import SPLITS, Candidate, CandidateScore, Project, Prompt
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import Actor, require_admin
from labeler.services.engine.local import INSTALL, PREFIX, check_local
from labeler.services.events import record_event
from labeler.services.margins import model_key, recompute_margins, route_margins
from labeler.services.projects import get_project_or_raise, settings_of, update_project

Conversation = list[dict[str, str]]
Scorer = Callable[[Sequence[Conversation]], Sequence[float]]  # conversations (ending in the reply) -> scores
Progress = Callable[[int, int], None]  # (candidates scored, candidates planned)
CHUNK = 200  # prompts read per short read session


@dataclass(frozen=True)
class ScoreRequest:
    """One scoring run."""

    project: str
    reward_model: str | Path  # a model folder (a `local:` prefix is accepted)
    split: str | None = None
    limit: int | None = None  # at most this many prompts (with unscored candidates) in this run
    batch_size: int = 16
    max_length: int = 1024


@dataclass
class ScoreSummary:
    """What a run did."""

    project: str
    reward_model: str
    split: str | None
    planned: int = 0  # candidates this run set out to score
    scored: int = 0  # scores stored by this run
    skipped: int = 0  # candidates in scope this model had scored before the run
    prompts: int = 0  # prompts whose candidates this run scored
    routing: bool = False  # this model is the project's routing model: margins were updated
    seconds: float = 0.0
    batches: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# The model


def check_reward_model(reward_model: str | Path) -> Path:
    """The folder, checked without loading it: the extra is installed, it is a one-output sequence classifier."""
    path = Path(model_key(reward_model))
    if not path.exists():
        raise Invalid(f"reward model {path} does not exist (a model folder, e.g. from `labeler train reward`)")
    if not path.is_dir():
        raise Invalid(f"reward model {path}: not a model folder (a reward model is a folder with config.json)")
    if not (path / "config.json").is_file():
        raise Invalid(f"reward model {path} has no config.json (not a transformers model folder)")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Invalid(f"reward model {path}: cannot read config.json: {e}") from None
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        shown = ", ".join(map(str, architectures)) or "no architecture"
        raise Invalid(f"reward model {path}: a `{shown}` model, not a sequence-classification model; train one "
                      "with `labeler train reward` (AutoModelForSequenceClassification with one output)")
    outputs = config.get("num_labels") or len(config.get("id2label") or {}) or 1
    if outputs != 1:
        raise Invalid(f"reward model {path}: the classifier has {outputs} outputs; a reward model has one score")
    check_local(f"{PREFIX}{path}")  # the `local` extra (torch, transformers) and a readable folder
    return path


def load_scorer(path: Path, *, max_length: int = 1024, batch_size: int = 16) -> Scorer:
    """A scorer running the model on this machine (CUDA when available, else CPU), `batch_size` texts at a time."""
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as e:
        raise Invalid(f"scoring needs the local extra ({e}): run `{INSTALL}`") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    except Exception as e:  # noqa: BLE001 - any loader failure: corrupt or unreadable weights
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise Invalid(f"reward model {path}: cannot load it: {type(e).__name__}: {first}") from None
    if tokenizer.chat_template is None:
        raise Invalid(f"reward model {path}: its tokenizer has no chat template (conversations cannot be rendered)")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise Invalid(f"reward model {path}: its tokenizer has neither a pad nor an end-of-sequence token")
    model.config.pad_token_id = pad  # the classifier reads the last token that is not padding
    model.to(device).eval()
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        max_length = min(max_length, positions)  # a longer input would run past the position table

    def score(conversations: Sequence[Conversation]) -> list[float]:
        ids = [_token_ids(tokenizer, conv)[-max_length:] for conv in conversations]
        out = [0.0] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: less padding
        for start in range(0, len(order), batch_size):
            part = order[start:start + batch_size]
            width = max(len(ids[i]) for i in part)
            rows = [ids[i] + [pad] * (width - len(ids[i])) for i in part]
            mask = [[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in part]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor(rows, device=device),
                               attention_mask=torch.tensor(mask, device=device)).logits
            for i, value in zip(part, logits[:, 0].float().cpu().tolist(), strict=True):
                out[i] = value
        return out

    return score


def _token_ids(tokenizer: Any, conversation: Conversation) -> list[int]:
    ids = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
    return list(ids[0] if ids and isinstance(ids[0], list) else ids)


# ---------------------------------------------------------------------------------------------
# The run


def score_project(actor: Actor, request: ScoreRequest, *, url: str | None = None, progress: Progress | None = None,
                  scorer: Scorer | None = None) -> ScoreSummary:
    """Score the project's unscored candidates with a reward model (admins only); commits batch by batch.

    `scorer` replaces the model (tests, other runtimes); without it the folder is checked first and
    loaded only when there is something to score.
    """
    require_admin(actor)
    _check(request)
    key = model_key(request.reward_model)
    path = check_reward_model(request.reward_model) if scorer is None else None
    with session_scope(url, write=False) as s:
        project = get_project_or_raise(s, request.project)
        summary = ScoreSummary(project.name, key, request.split,
                               planned=_count_pending(s, project.id, key, request.split, request.limit),
                               skipped=_count_scored(s, project.id, key, request.split))
    started = time.perf_counter()
    if summary.planned and scorer is None:
        scorer = load_scorer(path, max_length=request.max_length, batch_size=request.batch_size)  # type: ignore[arg-type]
    switched = False
    after, prompts = 0, 0
    if progress and summary.planned:
        progress(0, summary.planned)
    while summary.planned and (request.limit is None or prompts < request.limit):
        size = CHUNK if request.limit is None else min(CHUNK, request.limit - prompts)
        with session_scope(url, write=False) as s:
            items, last = _pending_chunk(s, project.id, key, request.split, after, size)
        if not items:
            break
        after, prompts = last, prompts + len({pid for pid, _cid, _conv in items})
        items.sort(key=lambda it: sum(len(m["content"]) for m in it[2]))  # similar lengths in one batch
        for start in range(0, len(items), request.batch_size):
            batch = items[start:start + request.batch_size]
            scores = _checked_scores(scorer([conv for _pid, _cid, conv in batch]), len(batch))  # type: ignore[misc]
            pairs = [(cid, sc) for (_pid, cid, _conv), sc in zip(batch, scores, strict=True)]
            with session_scope(url) as s:
                summary.scored += _store(s, key, pairs)
                routing, newly = _routing(s, actor, project.name, key)
                if routing == key:
                    recompute_margins(s, project.id, key, prompt_ids=sorted({pid for pid, _cid, _conv in batch}))
            switched |= newly
            summary.routing = routing == key
            summary.batches += 1
            if progress:
                progress(min(summary.scored, summary.planned), summary.planned)
    summary.prompts = prompts
    summary.seconds = round(time.perf_counter() - started, 3)
    with session_scope(url) as s:
        if switched:  # it became the routing model: prompts it did not score lose an older model's margin
            recompute_margins(s, project.id, key)
            summary.notes.append("this reward model is now the project's routing model (`routing_reward_model`)")
        summary.routing = settings_of(get_project_or_raise(s, project.name)).routing_reward_model == key
        record_event(s, actor, "score.run", "project", project.id, reward_model=key, split=request.split,
                     limit=request.limit, planned=summary.planned, scored=summary.scored, skipped=summary.skipped,
                     prompts=summary.prompts, routing=summary.routing, seconds=summary.seconds)
    return summary


def _check(request: ScoreRequest) -> None:
    if request.split is not None and request.split not in SPLITS:
        raise Invalid(f"unknown split `{request.split}`: expected one of {', '.join(SPLITS)}")
    for name, value in (("--limit", request.limit or 1), ("--batch-size", request.batch_size),
                        ("--max-length", request.max_length)):
        if value < 1:
            raise Invalid(f"{name} must be at least 1, not {value}")


def _checked_scores(scores: Sequence[float], n: int) -> list[float]:
    values = [float(v) for v in scores]
    if len(values) != n:
        raise Invalid(f"the reward model returned {len(values)} scores for {n} replies")
    if not all(math.isfinite(v) for v in values):
        raise Invalid("the reward model returned a score that is not a finite number (NaN or infinite)")
    return values


def _unscored(key: str) -> Any:
    return ~exists().where(CandidateScore.candidate_id == Candidate.id, CandidateScore.reward_model == key)


def _in_scope(project_id: int, split: str | None) -> list[Any]:
    where = [Prompt.project_id == project_id]
    if split is not None:
        where.append(Prompt.split == split)
    return where


def _pending_prompts(project_id: int, key: str, split: str | None, after: int, limit: int | None) -> Any:
    query = (select(Candidate.prompt_id).join(Prompt, Prompt.id == Candidate.prompt_id)
             .where(*_in_scope(project_id, split), Candidate.prompt_id > after, _unscored(key))
             .group_by(Candidate.prompt_id).order_by(Candidate.prompt_id))
    return query.limit(limit) if limit else query


def _count_pending(session: Session, project_id: int, key: str, split: str | None, limit: int | None) -> int:
    """Unscored candidates in scope (of the first `limit` prompts that have some)."""
    prompts = _pending_prompts(project_id, key, split, 0, limit).subquery()
    return session.scalar(select(func.count(Candidate.id))
                          .where(Candidate.prompt_id.in_(select(prompts.c.prompt_id)), _unscored(key))) or 0


def _count_scored(session: Session, project_id: int, key: str, split: str | None) -> int:
    return session.scalar(
        select(func.count(CandidateScore.id)).join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(*_in_scope(project_id, split), CandidateScore.reward_model == key)) or 0


def _pending_chunk(session: Session, project_id: int, key: str, split: str | None, after: int,
                   size: int) -> tuple[list[tuple[int, int, Conversation]], int]:
    """(prompt id, candidate id, conversation with the reply) of the next `size` prompts' unscored candidates."""
    ids = list(session.scalars(_pending_prompts(project_id, key, split, after, size)))
    if not ids:
        return [], after
    messages = dict(session.execute(select(Prompt.id, Prompt.messages).where(Prompt.id.in_(ids))).all())
    rows = session.execute(select(Candidate.prompt_id, Candidate.id, Candidate.text)
                           .where(Candidate.prompt_id.in_(ids), _unscored(key)).order_by(Candidate.id)).all()
    items = [(pid, cid, [*({"role": m["role"], "content": m["content"]} for m in messages[pid]),
                         {"role": "assistant", "content": text}]) for pid, cid, text in rows]
    return items, ids[-1]


def _store(session: Session, key: str, scores: list[tuple[int, float]]) -> int:
    """Insert the scores not stored yet (a concurrent run may have stored some); how many were new."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(CandidateScore).values([{"candidate_id": cid, "reward_model": key, "score": score}
                                       for cid, score in scores])
        .on_conflict_do_nothing(index_elements=["reward_model", "candidate_id"]).returning(CandidateScore.id))
    return len(result.all())  # rows inserted (rowcount is not reliable for a multi-row insert on every driver)


def _routing(session: Session, actor: Actor, project_name: str, key: str) -> tuple[str, bool]:
    """The project's routing model; with none yet, `key` becomes it. (model, whether it was set now)."""
    project = get_project_or_raise(session, project_name)
    routing = settings_of(project).routing_reward_model
    if routing is not None:
        return routing, False
    update_project(session, actor, project_name, settings={"routing_reward_model": key})
    return key, True


# ---------------------------------------------------------------------------------------------
# Margins


def refresh_margins(session: Session, actor: Actor, project_name: str) -> str | None:
    """Recompute a project's margins from its routing model (or the last one scored); the model used (admins)."""
    require_admin(actor)
    project: Project = get_project_or_raise(session, project_name)
    return route_margins(session, project.id, settings_of(project).routing_reward_model)
