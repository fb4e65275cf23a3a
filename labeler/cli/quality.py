"""Commands for quality: the agreement report (`labeler quality`) and gold tasks.

Two sections, one per author: agreement (labeler/services/quality.py) and gold (labeler/services/gold.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labeler.cli.base import _actor, _print_json, _typer, app, console, ensure_migrated, lazy, session_scope
from labeler.errors import LabelerError

if TYPE_CHECKING:
    from labeler.services.quality import Rate

gold = lazy("labeler.services.gold")
projects = lazy("labeler.services.projects")
quality = lazy("labeler.services.quality")

# ---- agreement: labeler quality ----------------------------------------------------------------


@app.command("quality")
def quality_(
    project: Annotated[str, typer.Option(help="Project to report on.")],
    reward_model: Annotated[str | None, typer.Option(
        help="Reward model whose agreement is shown (default: the routing model, else the last scored).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Agreement between labelers (pairwise, Kendall's tau, Krippendorff's alpha, consensus, position bias) and of
    the reward model with them, per split."""
    ensure_migrated()
    with session_scope(write=False) as s:
        report = quality.agreement_report(s, _actor(s), project, reward_model)
    if as_json:
        _print_json(report.to_dict())
        return
    _print_report(report)


def _num(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{places}f}"


def _cell(rate: Rate) -> str:
    """A rate on two lines: `56.2% (9/16)` and its 95% interval (fits an 80-column terminal)."""
    if not rate.total:
        return "n/a (0/0)"
    low, high = rate.interval  # type: ignore[misc]
    return f"{100 * rate.rate:.1f}% ({rate.hits}/{rate.total})\n95% CI {100 * low:.1f}-{100 * high:.1f}%"


def _print_report(r: quality.AgreementReport) -> None:
    console.print(f"[bold]{escape(r.project)}[/bold]: agreement of human rankings (submitted or accepted)")
    console.print(f"rankings that vote: {r.rankings} on {r.prompts} prompt(s); {r.shared_prompts} prompt(s) ranked by "
                  f"two or more labelers; not voting (none acceptable, < 2 ranked): {r.not_voting}", soft_wrap=True)
    if not r.shared_prompts:
        console.print("no prompt has two voting rankings yet: agreement needs labels_per_item >= 2")
    overall = Table(show_header=True, header_style="bold", box=None, pad_edge=False, show_lines=True)
    overall.add_column("measure")
    overall.add_column("value")
    overall.add_column("counts")
    overall.add_row("pairwise agreement", _cell(r.pairwise), f"{r.tied_pairs} tied pair(s) left out")
    overall.add_row("Kendall's tau-b (mean)", _num(r.kendall_tau),
                    f"{r.tau_pairs} pair(s) of rankings on {r.tau_prompts} prompt(s)")
    overall.add_row("Krippendorff's alpha (ordinal)", _num(r.alpha), f"{r.alpha_units} candidate pair(s)")
    overall.add_row("consensus support", _cell(r.consensus_support),
                    f"{r.consensus_prompts} prompt(s); mean export agreement {_num(r.consensus_mean_agreement)}")
    overall.add_row("first shown wins", _cell(r.position_first), "50% = no position bias")
    console.print(overall)
    if r.position:
        console.print("wins by display position: " + "; ".join(
            f"{p + 1}: {rate.text()}" for p, rate in r.position.items()), soft_wrap=True)
    if r.labelers:
        table = Table(title="per labeler", show_header=True, header_style="bold", box=None, pad_edge=False,
                      show_lines=True)
        for col in ("labeler", "rankings", "pairwise agreement", "vs consensus of others", "mean tau (n)"):
            table.add_column(col)
        for row in r.labelers:
            table.add_row(escape(row.username), str(row.rankings), _cell(row.pairwise), _cell(row.consensus),
                          f"{_num(row.mean_tau)} ({row.tau_pairs})")
        console.print(table)
    for ref in r.references:
        console.print(f"reference `{escape(ref.source)}` ({ref.rankings} ranking(s), not mixed with the labelers) "
                      f"vs the labelers' consensus: {ref.agreement.text()}", soft_wrap=True)
    _print_reward_model(r)


def _print_reward_model(r: quality.AgreementReport) -> None:
    """The reward model's agreement per split, beside the labelers' agreement with each other (InstructGPT's pair)."""
    rm = r.reward_model
    if rm is None or rm.reward_model is None:
        console.print("reward model: none has scored this project (`labeler score --project P --reward-model DIR`)")
        return
    console.print(f"reward model {escape(rm.reward_model)}: {rm.scored} of {rm.candidates} candidate(s) scored; "
                  "agreement = pairs ordered strictly by a ranking where the higher-scored reply is the one ranked "
                  "better (95% Wilson interval)", soft_wrap=True)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, show_lines=True)
    for col in ("split", "reward model vs labelers", "vs imported rankings", "labelers with each other"):
        table.add_column(col)
    splits = [s for s in ("train", "valid", "test") if s in rm.labelers or s in rm.imported or s in r.pairwise_by_split]
    for split in splits:
        held_out = " (held out)" if split in ("valid", "test") else ""
        table.add_row(split + held_out, _rm_cell(rm.labelers.get(split)), _rm_cell(rm.imported.get(split)),
                      _cell(r.pairwise_by_split[split]) if split in r.pairwise_by_split else "n/a")
    console.print(table if splits else "no counted ranking yet to compare the reward model with")


def _rm_cell(a: quality.SplitAgreement | None) -> str:
    if a is None:
        return "n/a"
    extra = [f"{a.score_ties} equal score(s)" if a.score_ties else "",
             f"{a.unscored_pairs} unscored pair(s) left out" if a.unscored_pairs else ""]
    return _cell(a.rate) + "".join(f"\n{e}" for e in extra if e)


# ---- gold (labeler/services/gold.py) ----------------------------------------------------------

gold_app = _typer("Gold tasks: prompts with the expected ranking or an exemplary demonstration.")
qualification_app = _typer("Qualification of labelers: who qualified, who is slipping; reset or grant it.")
app.add_typer(gold_app, name="gold")
app.add_typer(qualification_app, name="qualification")

ProjectOpt = Annotated[str, typer.Option("--project", help="Project name.")]


def _parse_ranks(text: str) -> dict[int, int]:
    """`12:1,13:2,14:2` -> {12: 1, 13: 2, 14: 2}."""
    ranks: dict[int, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        cid, sep, rank = part.partition(":")
        if not sep or not cid.strip().isdigit() or not rank.strip().isdigit():
            raise LabelerError(f"--ranks: expected `candidate_id:rank` pairs separated by commas, got `{part}`")
        ranks[int(cid)] = int(rank)
    return ranks


def _read_turns(path: Path) -> list[dict]:
    """A JSON file with the turns: a list of {role, content}, or an object with `turns` or `messages`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelerError(f"--turns-file {path}: cannot read JSON: {e}") from None
    if isinstance(data, dict):
        data = data.get("turns", data.get("messages"))
    if not isinstance(data, list):
        raise LabelerError(f"--turns-file {path}: expected a list of {{role, content}} (or an object with `turns`)")
    return data


@gold_app.command("add")
def gold_add(
    project: ProjectOpt,
    prompt: Annotated[int, typer.Option("--prompt", help="Prompt id.")],
    kind: Annotated[str, typer.Option(help="ranking or demonstration.")] = "ranking",
    ranks: Annotated[str | None, typer.Option(help="Expected ranks: `candidate_id:rank,...` (1 = best).")] = None,
    turns_file: Annotated[Path | None, typer.Option(help="JSON file with the exemplary demonstration's turns.")] = None,
) -> None:
    """Mark a prompt as gold with the expected ranking (--ranks) or an exemplary demonstration (--turns-file)."""
    ensure_migrated()
    parsed = _parse_ranks(ranks) if ranks is not None else None
    turns = _read_turns(turns_file) if turns_file is not None else None
    with session_scope() as s:
        info = gold.mark_gold(s, _actor(s), project, prompt, kind, ranks=parsed, turns=turns)
    console.print(f"prompt {info.prompt_id} is a `{info.kind}` gold task in `{escape(project)}`")


@gold_app.command("list")
def gold_list(
    project: ProjectOpt, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """The project's gold tasks with the expected answer and how labelers scored on them."""
    ensure_migrated()
    with session_scope(write=False) as s:
        infos = gold.list_gold(s, _actor(s), project)
    if as_json:
        _print_json([info.__dict__ for info in infos])
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("prompt", "kind", "expected", "results", "mean score", "prompt text"):
        table.add_column(col)
    for info in infos:
        expected = (", ".join(f"{c}:{r}" for c, r in info.expected.get("ranks", {}).items())
                    if info.kind == "ranking" else f"{len(info.expected.get('turns', []))} turn(s)")
        mean = "n/a" if info.mean_score is None else f"{info.mean_score:.2f}"
        table.add_row(str(info.prompt_id), info.kind, expected, str(info.results), mean, escape(info.preview))
    console.print(table if infos else f"no gold tasks in `{escape(project)}`")


@gold_app.command("remove")
def gold_remove(
    project: ProjectOpt,
    prompt: Annotated[int, typer.Option("--prompt", help="Prompt id.")],
    kind: Annotated[str, typer.Option(help="ranking or demonstration.")] = "ranking",
) -> None:
    """Return a gold prompt to the normal queue (past gold results keep their scores)."""
    ensure_migrated()
    with session_scope() as s:
        gold.unmark_gold(s, _actor(s), project, prompt, kind)
    console.print(f"prompt {prompt} is no longer a `{kind}` gold task in `{escape(project)}`")


@qualification_app.command("set")
def qualification_set(
    project: ProjectOpt,
    tasks: Annotated[int | None, typer.Option(help="Gold tasks a new labeler must do first (0 = none).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Mean gold score needed to qualify (0..1).")] = None,
    gold_rate: Annotated[float | None, typer.Option(help="Share of a qualified labeler's tasks that are gold.")] = None,
    slipping_threshold: Annotated[float | None, typer.Option(help="Recent gold mean below which one slips.")] = None,
    slipping_window: Annotated[int | None, typer.Option(help="Recent gold results the slipping mean uses.")] = None,
) -> None:
    """Set a project's qualification and gold settings (the others keep their values)."""
    given = {"qualification_tasks": tasks, "qualification_threshold": threshold, "gold_rate": gold_rate,
             "slipping_threshold": slipping_threshold, "slipping_window": slipping_window}
    settings = {k: v for k, v in given.items() if v is not None}
    if not settings:
        raise LabelerError("nothing to set: give at least one of --tasks, --threshold, --gold-rate, "
                           "--slipping-threshold, --slipping-window")
    ensure_migrated()
    with session_scope() as s:
        stored = projects.settings_of(projects.update_project(s, _actor(s), project, settings=settings))
    console.print(f"`{escape(project)}`: qualification {stored.qualification_tasks} task(s) at "
                  f"{stored.qualification_threshold:.0%}, gold rate {stored.gold_rate:.0%}, slipping below "
                  f"{stored.slipping_threshold:.0%} over the last {stored.slipping_window} check(s)")


@qualification_app.command("show")
def qualification_show(
    project: ProjectOpt, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Every labeler's qualification, gold score, recent checks and pause in a project."""
    ensure_migrated()
    with session_scope(write=False) as s:
        states = gold.list_qualifications(s, _actor(s), project)
    if as_json:
        _print_json([state.__dict__ for state in states])
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("labeler", "status", "qualification", "score", "gold score", "recent checks", "slipping"):
        table.add_column(col)
    for row in states:
        score = "n/a" if row.score is None else f"{row.score:.2f} ({row.done}/{row.required})"
        gold_score = "n/a" if row.gold_score is None else f"{row.gold_score:.2f} (n={row.gold_n})"
        recent = "n/a" if row.recent_score is None else f"{row.recent_score:.2f} (n={row.recent_n})"
        table.add_row(escape(row.username), row.status, row.qualification, score, gold_score, recent,
                      "yes" if row.slipping else "")
    console.print(table if states else f"no labelers in `{escape(project)}`")


@qualification_app.command("reset")
def qualification_reset(username: str, project: ProjectOpt) -> None:
    """Start a new qualification attempt for a labeler (earlier qualification results stop counting)."""
    ensure_migrated()
    with session_scope() as s:
        gold.reset_qualification(s, _actor(s), project, username)
    console.print(f"`{escape(username)}` starts a new qualification in `{escape(project)}`")


@qualification_app.command("grant")
def qualification_grant(username: str, project: ProjectOpt) -> None:
    """Mark a labeler qualified without the qualification set."""
    ensure_migrated()
    with session_scope() as s:
        gold.grant_qualification(s, _actor(s), project, username)
    console.print(f"`{escape(username)}` is qualified in `{escape(project)}`")


@app.command("pause")
def pause(username: str, project: ProjectOpt) -> None:
    """Pause a member of a project: no tasks for them there until resumed."""
    ensure_migrated()
    with session_scope() as s:
        gold.set_paused(s, _actor(s), project, username, True)
    console.print(f"`{escape(username)}` is paused in `{escape(project)}`")


@app.command("resume")
def resume(username: str, project: ProjectOpt) -> None:
    """Let a paused member of a project work again."""
    ensure_migrated()
    with session_scope() as s:
        gold.set_paused(s, _actor(s), project, username, False)
    console.print(f"`{escape(username)}` may work in `{escape(project)}` again")
