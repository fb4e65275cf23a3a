"""Client-side controls (Streamlit custom components v2): inline HTML/CSS/JS, no iframe, no build.

Why: every built-in widget click reruns the page on the server; a control whose inner clicks and
keystrokes should cost nothing (the Rank task, the Demonstrate editor) is one component that sends
the server only what must be stored (a submit, a skip, a debounced draft). The JavaScript and CSS
ship beside this module and are registered once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent


@cache
def component(name: str, *, css: bool = True):  # noqa: ANN201 - Streamlit's ComponentRenderer
    """The mount function of control `name` (`<name>.js` and `<name>.css` beside this module)."""
    return st.components.v2.component(
        f"labeler_{name}",
        js=(HERE / f"{name}.js").read_text(encoding="utf-8"),
        css=(HERE / f"{name}.css").read_text(encoding="utf-8") if css else None,
    )
