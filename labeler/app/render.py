"""Showing stored text safely: markdown without raw HTML, remote images, math or Streamlit directives.

Prompts and replies come from imports and models; they are data, never markup for the app. Streamlit
already refuses raw HTML unless `unsafe_allow_html=True` (never used here); on top of that, images
(which would fetch remote URLs), `$...$` math, `:color[...]`/`:material/...:` directives and links to
anything but http(s) and mailto (`data:`, `javascript:`, relative paths) are escaped so that what the
labeler reads is what the text says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

_IMAGE = re.compile(r"!\[")
# Characters that start syntax, each caught with the backslashes before it: math (`$`), Streamlit
# directives (`:red[`, `:material/x:`), and `<` that would open a tag. Escaping `<` keeps any line from
# becoming a raw HTML block (where markdown's own escapes, ours included, would show as backslashes).
_SYNTAX = [re.compile(r"(\\*)(\$)"), re.compile(r"(\\*)(:)(?=[a-z_/-]+(?:\[|:))"),
           re.compile(r"(\\*)(<)(?=[A-Za-z/!?])")]
# A code span kept as written: on one line, not after a backslash, without `|` (a GFM table splits
# its cells first). Anything markdown might not take as code is escaped instead.
_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)[^\n|]+?(?<!`)\1(?!`)")
# Links: only http(s) and mailto destinations stay links. Any other `](dest` (data:, javascript:, a
# relative path, an entity-obfuscated scheme) gets its `(` escaped, and a reference definition
# (`[x]: dest`) with such a destination its `[`: the text then reads as written, and links nowhere.
_SAFE_URL = re.compile(r"(?i)(?:https?:|mailto:)")
_INLINE_LINK = re.compile(r"\]\([ \t]*\n?[ \t]*<?")
_DEFINITION = re.compile(r"(\\*)(\[)((?:[^\[\]\\]|\\.){0,999}\]:[ \t]*\n?[ \t]*<?)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_LANGUAGE = re.compile(r"[\w+#.-]+")
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def inert_markdown(text: str) -> str:
    """Markdown that renders the text's formatting but cannot load, run or restyle anything.

    Code (fenced blocks and code spans) keeps every character: markdown shows code as written, so
    escapes there would show as backslashes. The fenced blocks are found here, line by line, and
    written back as top-level fences that no line of their body can close: markdown then sees
    exactly the code this function saw.
    """
    out: list[str] = []
    prose: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE.fullmatch(lines[i])
        if not opening or (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            prose.append(lines[i])
            i += 1
            continue
        fence, end = opening.group(1), i + 1
        while end < len(lines) and not re.fullmatch(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*",
                                                    lines[end]):
            end += 1
        out += [_escape_prose("\n".join(prose)), _code_block(lines[i + 1:end], opening.group(2))]
        prose, i = [], end + 1
    out.append(_escape_prose("\n".join(prose)))
    return "".join(out)


def _code_block(body: list[str], info: str) -> str:
    longest = max((len(run) for line in body for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    language = _LANGUAGE.match(info.strip())
    return f"\n\n{fence}{language.group() if language else ''}\n" + "".join(f"{line}\n" for line in body) + \
        f"{fence}\n\n"


def _escape_prose(text: str) -> str:
    out, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        out += [_escape(text[last:span.start()]), span.group()]
        last = span.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    text = _IMAGE.sub(r"!\\[", text)
    text = _INLINE_LINK.sub(lambda m: m.group() if _SAFE_URL.match(text, m.end()) else "]\\" + m.group()[1:], text)
    text = _DEFINITION.sub(lambda m: m.group() if _SAFE_URL.match(text, m.end()) else
                           _escaped(m.group(1), m.group(2)) + m.group(3), text)
    for syntax in _SYNTAX:
        text = syntax.sub(lambda m: _escaped(*m.groups()), text)
    return text


def _escaped(backslashes: str, char: str) -> str:
    """One more backslash unless an odd number already escapes the character (an even number escapes itself)."""
    return backslashes + ("" if len(backslashes) % 2 else "\\") + char


def show_text(text: str, markdown: bool | None = None) -> None:
    """Show stored text as written (line breaks, indentation, code, no markup), or as inert Markdown when
    the labeler turned it on (`markdown=None` follows the labeler's choice)."""
    if not text.strip():
        st.caption("(empty)")
    elif markdown_preferred() if markdown is None else markdown:
        st.markdown(inert_markdown(text))
    else:
        st.text(text, width="stretch")


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


MARKDOWN_KEY = "view.markdown"
_MARKDOWN = None


def markdown_preferred() -> bool:
    """Whether this labeler turned Markdown rendering on (off by default: texts are shown as written)."""
    return bool(st.session_state.get(MARKDOWN_KEY, False))


def markdown_html(text: str) -> str:
    """Markdown as HTML with raw HTML escaped, images left as their text (nothing is fetched) and only
    links markdown-it deems safe (no `javascript:`); for a client-side control to show."""
    global _MARKDOWN
    if _MARKDOWN is None:
        from markdown_it import MarkdownIt

        _MARKDOWN = MarkdownIt("commonmark", {"html": False})
        _MARKDOWN.add_render_rule("image", _image_as_text)
    return _MARKDOWN.render(text)


def _image_as_text(renderer, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it's rule signature
    """An image is shown as the text that wrote it, never loaded."""
    from html import escape

    token = tokens[idx]
    return escape(f"![{token.content}]({token.attrGet('src') or ''})", quote=False)
