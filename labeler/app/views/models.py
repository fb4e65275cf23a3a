"""Models (admins, and reviewers of a project): models judged by preference, and comparison rounds.

Ratings (Bradley–Terry, Elo-like scale, mean 1000) with their 95% bootstrap intervals as error bars,
and the win-rate matrix (row model against column model, ties half) as a heatmap and a table with
the games behind each rate. The judge is the labelers (the default) or a reward model's scores.
Figures come from `labeler.services.compare` (definitions in `analytics.comparison`). Admins can
start a comparison round: one candidate per model on each prompt of a split, for labelers to rank.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from labeler.app import deps, tasks
from labeler.errors import LabelerError
from labeler.services.compare import (
    compare_models,
    comparison_round,
    list_reward_models,
    project_models,
    round_request,
)

K = "models."  # session_state namespace of this page
HUMANS = "labelers (human rankings)"


def _ratings_chart(data: dict[str, Any]) -> None:
    st.markdown("**Ratings** (Bradley–Terry, Elo scale: mean of the models = 1000; bars: 95% intervals)")
    rows = [{"model": s["model"], "rating": s["rating"], "low": (s["interval"] or [s["rating"]] * 2)[0],
             "high": (s["interval"] or [s["rating"]] * 2)[1], "games": s["games"]} for s in data["strengths"]]
    frame = pd.DataFrame(rows)
    y = alt.Y("model:N", sort=data["models"], title=None)
    tooltip = ["model", alt.Tooltip("rating:Q", format=".0f"), alt.Tooltip("low:Q", format=".0f"),
               alt.Tooltip("high:Q", format=".0f"), "games"]
    bars = alt.Chart(frame).mark_rule(strokeWidth=2).encode(
        y, x=alt.X("low:Q", title="rating", scale=alt.Scale(zero=False)), x2="high:Q", tooltip=tooltip)
    points = alt.Chart(frame).mark_point(filled=True, size=80).encode(y, x="rating:Q", tooltip=tooltip)
    labels = alt.Chart(frame).mark_text(dy=-10).encode(y, x="rating:Q", text=alt.Text("rating:Q", format=".0f"))
    st.altair_chart((bars + points + labels).properties(height=60 + 40 * len(frame)), width="stretch")


def _matrix(data: dict[str, Any]) -> None:
    st.markdown("**Win rate** of the row model against the column model (ties count half)")
    cells = [{"model": a, "opponent": b, "win rate": r, "games": g, "label": f"{100 * r:.0f}% ({g})"}
             for a, rates, games in zip(data["models"], data["win_rate"], data["games"], strict=True)
             for b, r, g in zip(data["models"], rates, games, strict=True) if r is not None]
    if cells:
        frame = pd.DataFrame(cells)
        base = alt.Chart(frame).encode(x=alt.X("opponent:N", sort=data["models"], title=None),
                                       y=alt.Y("model:N", sort=data["models"], title=None))
        heat = base.mark_rect().encode(color=alt.Color("win rate:Q", scale=alt.Scale(domain=[0, 1], scheme="redblue"),
                                                       legend=None),
                                       tooltip=["model", "opponent", alt.Tooltip("win rate:Q", format=".0%"), "games"])
        chart = heat + base.mark_text().encode(text="label:N")
        st.altair_chart(chart.properties(height=50 + 40 * len(data["models"])), width="stretch")
    st.dataframe(pd.DataFrame(
        [["—" if r is None else f"{100 * r:.0f}% ({g})" for r, g in zip(rates, games, strict=True)]
         for rates, games in zip(data["win_rate"], data["games"], strict=True)],
        index=data["models"], columns=data["models"]), width="stretch")


def _round(actor, project: str, models: list[str]) -> None:  # noqa: ANN001
    """An admin's comparison round: one candidate per chosen model on each prompt of a split."""
    with st.expander("Start a comparison round", icon=":material/compare_arrows:"):
        st.caption("Generates one candidate from each model on every prompt of the set (model names are never "
                   "shown to labelers; the order is shuffled per ranking). Uses the project's model settings.")
        typed = st.text_input("Models (comma-separated: remote names or local:<path>)", ", ".join(models),
                              key=K + "round.models")
        c1, c2 = st.columns(2)
        split = c1.selectbox("Prompts of split", ["all", "train", "valid", "test"], key=K + "round.split")
        limit = c2.number_input("At most this many prompts", min_value=1, value=50, key=K + "round.limit")
        if st.button("Generate the round", key=K + "round.run", icon=":material/play_arrow:"):
            try:  # the round opens its own sessions (it commits prompt by prompt), as Generate does
                request = round_request(project, typed.split(","), splits=() if split == "all" else (split,),
                                        limit=int(limit))
                with st.spinner("Generating…"):
                    summary = comparison_round(actor, request)
            except LabelerError as e:
                st.error(str(e))
                return
            deps.flash(f"Round generated: {summary.candidates} candidate(s) on {summary.prompts_done} prompt(s); "
                       f"{summary.failed} failed.")
            st.rerun()


def render_models() -> None:
    """Ratings and win rates of a project's models, judged by the labelers or by a reward model."""
    actor = deps.page_actor()
    st.title("Models")
    picked = tasks.project_picker(actor, K + "project")
    if picked is None:
        return
    project, _ = picked
    ok, written = deps.call(project_models, actor, project, write=False)
    ok_rm, rms = deps.call(list_reward_models, actor, project, write=False)
    if not (ok and ok_rm):
        return
    names = [m for m, _ in written]
    c1, c2, c3 = st.columns([2, 2, 1])
    chosen = c1.multiselect("Models", names, key=K + "models", placeholder="all")
    judge = c2.selectbox("Judged by", [HUMANS, *rms], key=K + "judge")
    imported = c3.checkbox("Also imported rankings", key=K + "imported")
    ok, report = deps.call(compare_models, actor, project, models=chosen, include_imported=imported,
                           reward_model=None if judge == HUMANS else judge, write=False)
    if not ok:
        return
    data = report.to_dict()
    st.caption(f"{data['prompts']:,} prompt(s) with comparisons; "
               f"{'human rankings' if data['judge'] == 'humans' else 'reward-model scores'}, submitted or accepted.")
    for note in data["notes"]:
        st.info(note)
    if data["models"]:
        left, right = st.columns(2)
        with left:
            _ratings_chart(data)
        with right:
            _matrix(data)
    if actor.is_admin:
        _round(actor, project, names)


render_models()
