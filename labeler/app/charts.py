"""Small chart and number helpers for the admin pages: every rate is shown with its count.

Charts are Altair (drawn by `st.altair_chart`), labelled with the counts they stand for; an empty
series shows a one-line caption instead of an empty chart.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st


def rate_text(hits: int, total: int) -> str:
    """`75% (3/4)`, or `— (0/0)` when there is nothing to count."""
    if not total:
        return "— (0/0)"
    return f"{100 * hits / total:.0f}% ({hits}/{total})"


def number_text(value: float | None, n: int, places: int = 2) -> str:
    """`0.82 (n=5)`, or `— (n=0)`."""
    return f"— (n={n})" if value is None else f"{value:.{places}f} (n={n})"


def bar(rows: list[dict[str, Any]], category: str, value: str, title: str, empty: str, *,
        label: str | None = None, sort: list[Any] | None = None, horizontal: bool = True) -> None:
    """One bar per row, each labelled with `label` (a column; default the value itself)."""
    st.markdown(f"**{title}**")
    if not rows or not any(r[value] for r in rows):
        st.caption(empty)
        return
    frame = pd.DataFrame(rows)
    cat = (alt.Y(f"{category}:N", title=None, sort=sort) if horizontal
           else alt.X(f"{category}:N", title=None, sort=sort, axis=alt.Axis(labelAngle=0)))
    val = alt.X(f"{value}:Q", title=None) if horizontal else alt.Y(f"{value}:Q", title=None)
    base = alt.Chart(frame).encode(cat, val, tooltip=list(frame.columns))
    text = base.mark_text(align="left", dx=3) if horizontal else base.mark_text(dy=-6)
    chart = base.mark_bar() + text.encode(text=f"{label or value}:N")
    height = 40 + 28 * len(frame) if horizontal else 260
    st.altair_chart(chart.properties(height=height), width="stretch")
