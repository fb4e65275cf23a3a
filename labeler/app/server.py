"""The Streamlit options the app ships (`.streamlit/config.toml`), as `streamlit run` flags.

`labeler serve` and the browser tests start Streamlit the same way, from here, so what the tests see
is what a labeler gets (no developer chrome, no usage statistics).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / ".streamlit" / "config.toml"


def config_flags() -> list[str]:
    """The shipped options as `streamlit run` flags (`--client.toolbarMode minimal`, ...)."""
    options = tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    flags: list[str] = []
    for section, values in options.items():
        for name, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{name}", text]
    return flags
