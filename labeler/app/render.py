"""Showing stored text safely: markdown without raw HTML, remote images, math or Streamlit directives.

Prompts and replies come from imports and models; they are data, never markup for the app. Streamlit
already refuses raw HTML unless `unsafe_allow_html=True` (never used here); on top of that, images
(which would fetch remote URLs), `$...$` math and `:color[...]`/`:material/...:` directives are escaped
so that what the labeler reads is what the text says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

_IMAGE = re.compile(r"!\[")
_DIRECTIVE = re.compile(r":(?=[a-z_/-]+(?:\[|:))")
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def inert_markdown(text: str) -> str:
    """Markdown that renders the text's formatting but cannot load, run or restyle anything."""
    text = _IMAGE.sub(r"!\\[", text)
    text = text.replace("$", r"\$")
    return _DIRECTIVE.sub(r"\\:", text)


def show_text(text: str) -> None:
    """Render stored text (markdown) inertly."""
    st.markdown(inert_markdown(text) if text.strip() else "*(empty)*")


def show_conversation(messages: Sequence[dict[str, Any]]) -> None:
    """The conversation so far, one chat bubble per turn."""
    for message in messages:
        role = str(message.get("role", "user"))
        with st.chat_message("user" if role == "user" else "assistant" if role == "assistant" else "ai"):
            st.caption(ROLE_NAMES.get(role, role))
            show_text(str(message.get("content", "")))


def letter(index: int) -> str:
    """A, B, C, … for display positions 0, 1, 2, …"""
    return chr(ord("A") + index)


def flag_label(flag: str) -> str:
    """`fails_instruction` -> `Fails instruction`."""
    return flag.replace("_", " ").capitalize()
