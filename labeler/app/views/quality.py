"""Quality (admins, and reviewers of a project): agreement between labelers and what their labels look like.

Headline figures (pairwise agreement, Kendall's tau, Krippendorff's alpha, support for the consensus,
position bias) and charts (agreement by week, Likert scores, flags, wins by display position), every
rate with its count. Figures come from `labeler.services.quality` (definitions in `analytics.agreement`).
Beside them, per split, the agreement of a reward model with the labelers (services/reward_models.py):
InstructGPT's two numbers, side by side.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from labeler.app import deps, tasks
from labeler.app.charts import bar, number_text, rate_text
from labeler.app.render import flag_label, letter
from labeler.services.projects import settings_of
from labeler.services.quality import AgreementReport, QualityCharts, Rate, quality_overview, reward_models

K = "quality."  # session_state namespace of this page


def _headline(report: AgreementReport) -> None:
    st.caption(f"{report.rankings:,} voting ranking(s) by labelers on {report.prompts:,} prompt(s); "
               f"{report.shared_prompts:,} prompt(s) ranked by two or more labelers "
               f"({report.not_voting:,} ranking(s) do not vote: none acceptable, or fewer than two ranked).")
    first, second = st.columns(3), st.columns(3)
    _rate_metric(first[0], "Pairwise agreement", report.pairwise, "pairs",
                 f"candidate pairs two labelers ordered the same way; {report.tied_pairs:,} tied pair(s) left out")
    _rate_metric(first[1], "Support for the consensus", report.consensus_support, "pair orders",
                 f"labelers' pair orders that match the consensus, on {report.consensus_prompts:,} prompt(s)")
    _rate_metric(first[2], "Shown first wins", report.position_first, "comparisons", "50% means no position bias")
    _number_metric(second[0], "Kendall's tau (mean)", report.kendall_tau, report.tau_pairs, "ranking pairs",
                   f"over {report.tau_pairs:,} pair(s) of rankings on {report.tau_prompts:,} prompt(s)")
    _number_metric(second[1], "Krippendorff's alpha", report.alpha, report.alpha_units, "candidate pairs",
                   "ordinal, over candidate pairs coded by two or more labelers")


def _rate_metric(column, label: str, rate: Rate, unit: str, help_text: str) -> None:  # noqa: ANN001
    """The rate in big, its count under it (a rate is never shown without its n)."""
    value = "—" if not rate.total else f"{100 * rate.hits / rate.total:.0f}%"
    column.metric(label, value, delta=f"{rate.hits:,} of {rate.total:,} {unit}", delta_color="off",
                  delta_arrow="off", help=help_text)


def _number_metric(column, label: str, value: float | None, n: int, unit: str, help_text: str) -> None:  # noqa: ANN001
    column.metric(label, "—" if value is None else f"{value:.2f}", delta=f"n = {n:,} {unit}", delta_color="off",
                  delta_arrow="off", help=help_text)


def _agreement_by_week(charts: QualityCharts) -> None:
    st.markdown("**Agreement over time** (by week, pairs of two labelers)")
    points = [{"week": w, "agreement": a / t, "agree": a, "pairs": t, "label": f"{a}/{t}"}
              for w, a, t in charts.agreement_by_week if t]
    if not points:
        st.caption("No prompt ranked by two labelers yet.")
        return
    frame = pd.DataFrame(points)
    base = alt.Chart(frame).encode(
        x=alt.X("week:O", title="week of"), y=alt.Y("agreement:Q", axis=alt.Axis(format="%"), title=None,
                                                    scale=alt.Scale(domain=[0, 1])),
        tooltip=["week", alt.Tooltip("agreement:Q", format=".0%"), "agree", "pairs"])
    chart = base.mark_line(point=True) + base.mark_text(dy=-10).encode(text="label:N")
    st.altair_chart(chart.properties(height=260), width="stretch")


def _position_bias(charts: QualityCharts) -> None:
    st.markdown("**Position bias** (how often the candidate shown at each place wins; 50% = no bias)")
    rows = [{"shown as": letter(p), "wins": w, "comparisons": c, "win rate": w / c, "label": rate_text(w, c)}
            for p, (w, c) in sorted(charts.position.items()) if c]
    if not rows:
        st.caption("No strict comparisons yet.")
        return
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        x=alt.X("shown as:N", title="shown as", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("win rate:Q", axis=alt.Axis(format="%"), title=None, scale=alt.Scale(domain=[0, 1])),
        tooltip=["shown as", "wins", "comparisons", alt.Tooltip("win rate:Q", format=".0%")])
    even = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    chart = base.mark_bar() + base.mark_text(dy=-6).encode(text="label:N") + even
    st.altair_chart(chart.properties(height=260), width="stretch")


def _tables(report: AgreementReport) -> None:
    if report.labelers:
        st.markdown("**Per labeler**")
        st.dataframe([{
            "labeler": row.username, "rankings": row.rankings,
            "agreement (pairs)": rate_text(row.pairwise.hits, row.pairwise.total), "tied pairs": row.tied,
            "with consensus (pairs)": rate_text(row.consensus.hits, row.consensus.total),
            "Kendall's tau": number_text(row.mean_tau, row.tau_pairs),
        } for row in report.labelers], hide_index=True, width="stretch")
    if report.between:
        st.markdown("**Between two labelers**")
        st.dataframe([{"labeler": a, "and": b, "agreement (pairs)": rate_text(rate.hits, rate.total)}
                      for a, b, rate in report.between], hide_index=True, width="stretch")
    if report.references:
        st.markdown("**Imported rankings against the labelers' consensus**")
        st.dataframe([{"source": ref.source, "rankings": ref.rankings,
                       "agreement (pairs)": rate_text(ref.agreement.hits, ref.agreement.total)}
                      for ref in report.references], hide_index=True, width="stretch")


def _reward_model(report: AgreementReport) -> None:
    """The reward model's agreement per split beside the labelers' agreement with each other."""
    rm = report.reward_model
    st.markdown("**Reward model vs labelers** (pairs a ranking orders strictly where the higher-scored reply is "
                "the one ranked better; 95% Wilson interval)")
    if rm is None or rm.reward_model is None:
        st.caption("No reward model has scored this project: `labeler score --project P --reward-model DIR`.")
        return
    st.caption(f"`{rm.reward_model}`: {rm.scored:,} of {rm.candidates:,} candidate(s) scored.")
    splits = [s for s in ("train", "valid", "test")
              if s in rm.labelers or s in rm.imported or s in report.pairwise_by_split]
    if not splits:
        st.caption("No counted ranking to compare it with yet.")
        return

    def cell(rate: Rate | None) -> str:
        if rate is None or not rate.total:
            return "—"
        low, high = rate.interval  # type: ignore[misc]
        return f"{rate_text(rate.hits, rate.total)}, CI {100 * low:.0f}–{100 * high:.0f}%"

    st.dataframe([{
        "split": s + (" (held out)" if s in ("valid", "test") else ""),
        "reward model vs labelers": cell(rm.labelers[s].rate if s in rm.labelers else None),
        "vs imported rankings": cell(rm.imported[s].rate if s in rm.imported else None),
        "labelers with each other": cell(report.pairwise_by_split.get(s)),
    } for s in splits], hide_index=True, width="stretch")


def render_quality() -> None:
    """Agreement figures and charts for one project; the services refuse labelers."""
    actor = deps.page_actor()
    st.title("Quality")
    picked = tasks.project_picker(actor, K + "project")
    if picked is None:
        return
    project, projects = picked
    by_name = {p.name: p for p in projects}
    ok, models = deps.call(reward_models, actor, project, write=False)
    if not ok:
        return
    chosen = None
    if len(models) > 1:
        names = [m.name for m in models]
        default = next((i for i, m in enumerate(models) if m.routing), 0)
        chosen = st.selectbox("Reward model", names, index=default, key=K + "reward_model",
                              format_func=lambda n: n + (" (routing)" if n in {m.name for m in models if m.routing}
                                                         else ""))
    ok, overview = deps.call(quality_overview, actor, project, chosen, write=False)  # one pass over the rankings
    if not ok:
        return
    report, charts = overview.report, overview.charts
    _headline(report)
    if not report.rankings:
        st.info(f"No rankings by labelers in `{project}` yet: the figures fill in as work is submitted.")
    _reward_model(report)
    left, right = st.columns(2)
    with left:
        _agreement_by_week(charts)
    with right:
        _position_bias(charts)
    left, right = st.columns(2)
    with left:
        total = sum(charts.likert.values())
        scale = range(1, max([settings_of(by_name[project]).likert_points, *charts.likert]) + 1)
        bar([{"score": s, "ratings": charts.likert.get(s, 0), "label": rate_text(charts.likert.get(s, 0), total)}
             for s in scale],
            "score", "ratings", "Likert scores (overall quality)", "No Likert scores yet.", label="label",
            horizontal=False, sort=None)
    with right:
        bar([{"flag": flag_label(f), "times": n} for f, n in charts.flags.items()], "flag", "times",
            "Flags (times set on a candidate)", "No flags set yet.")
    _tables(report)


render_quality()
