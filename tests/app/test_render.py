"""inert_markdown: stored text renders as what it says, and never as HTML, images, math or directives.

Rendered with markdown-it (CommonMark, raw HTML allowed: the strictest reading, stricter than Streamlit,
which escapes raw HTML itself), then reduced to the visible text and the tags that carry it. Two extra
inline rules stand in for Streamlit's math and directive plugins: an unescaped `$`, or `:name[` /
`:name:`, outside code renders as a <math> or <directive> tag, which the checks refuse.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from labeler.app.render import inert_markdown

DIRECTIVE = re.compile(r":[a-z_/-]+(?:\[|:)")


def _math_and_directives(state, silent: bool) -> bool:  # noqa: ANN001 - markdown-it's inline state
    char = state.src[state.pos]
    if char == "$" or (char == ":" and DIRECTIVE.match(state.src, state.pos)):
        if not silent:
            state.push("html_inline", "", 0).content = "<math>" if char == "$" else "<directive>"
        state.pos += 1
        return True
    return False


MD = MarkdownIt("commonmark", {"html": True})
MD.inline.ruler.after("backticks", "math_and_directives", _math_and_directives)
ALLOWED_TAGS = {"p", "code", "pre", "em", "strong", "a", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                "li", "blockquote"}


def rendered(text: str) -> str:
    return MD.render(inert_markdown(text))


def visible(html: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def tags(html: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)", html)}


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script> costs $5 and :red[RED]",
    "<b>bold</b> then $x^2$ then ![pixel](http://127.0.0.1:9/p.png)",
    "<div>\nA block that starts with a tag, with $1 and :material/home:\n</div>",
    "plain <br> inline tag and a <!-- comment --> and <?php echo 1 ?>",
])
def test_tags_math_images_and_directives_read_as_written(text: str) -> None:
    html = rendered(text)
    assert tags(html) <= ALLOWED_TAGS, html
    assert visible(html) == " ".join(text.split()), html  # no backslash shows, nothing is lost


def test_code_keeps_every_character_as_written() -> None:
    text = "Use `a < b && $HOME` here.\n\n```sh\necho $PATH <tag> ![x](y)\n```\n\nThen $5."
    html = rendered(text)
    assert "<code>a &lt; b &amp;&amp; $HOME</code>" in html
    assert "echo $PATH &lt;tag&gt; ![x](y)" in html
    assert "Then $5." in html and "\\" not in visible(html)


@pytest.mark.parametrize("text", [
    "\\`![pixel](http://127.0.0.1:9/p.png)`",  # an escaped backtick opens no code span
    "`unclosed ![pixel](http://127.0.0.1:9/p.png)",
    "`a\n\n![pixel](http://127.0.0.1:9/p.png) $x$ b`",  # a code span never crosses a blank line
    "```js`x\n![pixel](http://127.0.0.1:9/p.png)\n```",  # not a fence: its info string has a backtick
    "| `a | ![pixel](http://127.0.0.1:9/p.png) $x$ ` |",  # a table splits cells before code spans
    "\\$x$ \\<script> \\:red[x]",  # an escaped backslash escapes nothing after it
])
def test_text_that_only_looks_like_code_is_still_escaped(text: str) -> None:
    html = rendered(text)
    assert tags(html) <= ALLOWED_TAGS, html


HOSTILE = st.sampled_from(["<script>", "</script>", "<img src=x onerror=alert(1)>", "<iframe src=//x>", "<style>",
                           "![p](http://x/p.png)", "$", "$$", ":red[", ":material/home:", "`", "```", "~~~", "\\",
                           "\n", "\n\n", "    ", "<", ">", "[a](javascript:alert(1))", "<!--", "-->", "*", "_"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(HOSTILE, st.text(max_size=5)), max_size=25).map("".join))
def test_no_input_yields_html_images_or_raw_tags(text: str) -> None:
    html = rendered(text)
    assert tags(html) <= ALLOWED_TAGS, (text, html)


# markdown-it refuses javascript: and data: links itself; Streamlit's renderer does not (the issue saw a live
# data: link in Chromium). So the link checks render with every destination allowed: only ours filter.
LINK_MD = MarkdownIt("commonmark", {"html": True})
LINK_MD.validateLink = lambda url: True


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', html)


def _link_render(text: str) -> str:
    return LINK_MD.render(inert_markdown(text))


@pytest.mark.parametrize("text", [
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](javascript:alert(1))",
    "[x](JavaScript:alert(1))",
    "[x]( <data:text/html,hi> )",
    "[x](\ndata:text/html,hi)",
    "[x](&#100;ata:text/html,hi)",
    "[x](/admin)",
    "[x](#top) and [y](ftp://host/file)",
    "[x][r]\n\n[r]: data:text/html,hi",
    "[x][r]\n\n> [r]:\n> javascript:alert(1)",
    "[x]\n\n- [x]: vbscript:msgbox",
    "[a\\\\](data:text/html,hi)",  # an escaped backslash: the bracket still closes the link text
    "[x][r]\n\n\\\\[r]: data:text/html,hi",
])
def test_only_http_and_mailto_links_stay_links(text: str) -> None:
    html = _link_render(text)
    assert _links(html) == [], html
    assert tags(html) <= ALLOWED_TAGS, html


def test_http_https_and_mailto_links_still_work() -> None:
    html = _link_render("[a](https://example.org/x) [b](http://example.org) [c](mailto:me@example.org) "
                    "[d][r]\n\n[r]: HTTPS://example.org/ref")
    assert _links(html) == ["https://example.org/x", "http://example.org", "mailto:me@example.org",
                            "HTTPS://example.org/ref"]


def test_a_refused_link_reads_as_written() -> None:
    text = "see [the page](data:text/html,hello) now"
    assert visible(_link_render(text)) == text


LINKY = st.sampled_from(["[", "]", "(", ")", "<", ">", "data:", "javascript:", "https://x", "mailto:a@b", ":", "\\",
                         "\n", " ", "x", "[r]: ", "> ", "- ", "&#100;"])


@settings(max_examples=300, deadline=None)
@given(st.lists(LINKY, max_size=30).map("".join))
def test_no_input_yields_a_link_other_than_http_or_mailto(text: str) -> None:
    for href in _links(_link_render(text)):
        assert re.match(r"(?i)(https?:|mailto:)", unescape(href)), (text, href)
