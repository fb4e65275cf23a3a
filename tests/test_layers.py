"""The dependency rule (CONVENTIONS.md), checked by reading the imports.

`exports` imports neither `db` nor `labeler`; `db` never imports `labeler`; the CLI and the app
call services and never touch `db` or SQLAlchemy themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    return [base] if base.is_file() else sorted(base.rglob("*.py"))


RULES = [
    (("exports",), ("db", "labeler", "sqlalchemy")),
    (("db",), ("labeler",)),
    (("labeler", "cli"), ("db", "sqlalchemy")),
    (("labeler", "app"), ("db", "sqlalchemy")),
    (("labeler", "readers"), ("db", "sqlalchemy", "labeler.services")),
    (("labeler", "hygiene.py"), ("db", "sqlalchemy", "labeler.services")),
]


@pytest.mark.parametrize(("where", "forbidden"), RULES, ids=["/".join(r[0]) for r in RULES])
def test_layers_only_call_downwards(where, forbidden):
    offences = []
    for path in _files(*where):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []
