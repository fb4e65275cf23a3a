"""Client-side controls (Streamlit custom components v2): inline HTML/CSS/JS, no iframe, no build.

Why: every built-in widget click reruns the page on the server; a control whose inner clicks and
keystrokes should cost nothing (the Rank task, the Demonstrate editor) is one component that sends
the server only what must be stored (a submit, a skip, a debounced draft). The JavaScript and CSS
ship beside this module and are registered once per process.

A piece two controls draw alike (the scope question) is written once, in `<piece>.js` (top-level
functions, no `export`) and `<piece>.css`, and prepended to each control's module text and styles
(`PRELUDES`): a component's JavaScript is one module, so there is no import between them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

PRELUDES: dict[str, tuple[str, ...]] = {"rank": ("scope",), "editor": ("scope",)}  # control -> shared pieces


def _text(name: str, ext: str) -> str:
    """The text of `<name>.<ext>` beside this module, or "" when there is none."""
    path = HERE / f"{name}.{ext}"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def module_text(name: str, ext: str) -> str:
    """Control `name`'s JavaScript or CSS (`ext`): its shared pieces first, then its own file."""
    own = (HERE / f"{name}.{ext}").read_text(encoding="utf-8")
    parts = [_text(piece, ext) for piece in PRELUDES.get(name, ())]
    return "\n".join([*(p for p in parts if p), own])


@cache
def component(name: str, *, css: bool = True):  # noqa: ANN201 - Streamlit's ComponentRenderer
    """The mount function of control `name` (`<name>.js` and `<name>.css` beside this module)."""
    return st.components.v2.component(
        f"labeler_{name}",
        js=module_text(name, "js"),
        css=module_text(name, "css") if css else None,
    )
