"""The dependency rule (CONVENTIONS.md), checked by reading the imports.

`exports` and `analytics` import neither `db` nor `labeler`; `db` never imports `labeler`; the CLI
and the app call services and never touch `db`, SQLAlchemy, `exports` or `analytics` themselves;
readers never import the store. Among the services there is no circle, and no import hidden inside
a function to dodge one.
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
    (("exports",), ("db", "labeler", "sqlalchemy", "analytics")),
    (("analytics",), ("db", "labeler", "sqlalchemy")),
    (("db",), ("labeler",)),
    (("labeler", "cli"), ("db", "sqlalchemy", "exports", "analytics")),
    (("labeler", "app"), ("db", "sqlalchemy", "exports", "analytics")),
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


SERVICES = ROOT / "labeler" / "services"


def _service_of(name: str, base: Path) -> str | None:
    """`labeler.services.x.y` -> `x` when `x` is a module (or package) of the services."""
    parts = name.split(".")
    if parts[:2] != ["labeler", "services"] or len(parts) < 3:
        return None
    return parts[2] if (base / f"{parts[2]}.py").exists() or (base / parts[2]).is_dir() else None


def service_graph(base: Path = SERVICES) -> dict[str, set[str]]:
    """Service module -> the service modules it imports (anywhere in it, `from labeler.services import x` too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(base.rglob("*.py")):
        me = path.relative_to(base).parts[0].removesuffix(".py")
        if me == "__init__":
            continue
        graph.setdefault(me, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[me].update(o for t in targets if (o := _service_of(t, base)) is not None and o != me)
    return graph


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Every import circle found by a depth-first walk, as `a -> b -> a`."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    found: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def imports_in_functions(base: Path = SERVICES) -> list[str]:
    """`file:line` of every import of `labeler` made inside a function (the usual way to dodge a circle)."""
    offences = []
    for path in sorted(base.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                             else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                    if any(n == "labeler" or n.startswith("labeler.") for n in names):
                        offences.append(f"{path.relative_to(base)}:{node.lineno}")
    return offences


def test_the_services_import_each_other_without_a_circle():
    assert circles(service_graph()) == []


def test_no_service_imports_labeler_inside_a_function():
    assert imports_in_functions() == []


def test_the_checks_see_a_circle_and_a_hidden_import(tmp_path):
    """What the services had before (gold -> labeling -> queue -> gold, a local import in gold) is caught."""
    (tmp_path / "gold.py").write_text("def f():\n    from labeler.services.labeling import check_turns\n")
    (tmp_path / "labeling.py").write_text("from labeler.services.queue import renew_lease\n")
    (tmp_path / "queue.py").write_text("from labeler.services import gold\n")
    graph = service_graph(tmp_path)
    assert graph == {"gold": {"labeling"}, "labeling": {"queue"}, "queue": {"gold"}}
    assert circles(graph) == ["gold -> labeling -> queue -> gold"]
    assert imports_in_functions(tmp_path) == ["gold.py:2"]
