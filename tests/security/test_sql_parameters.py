"""Values reach SQL only as bound parameters: no SQL text is built from strings at run time.

A static walk over the application's code (not the migrations, which run once on fixed names): every call
that takes raw SQL (text, literal_column, exec_driver_sql, execute, cursor.copy) must get a constant
string, unless the place is on the reviewed allow-list below where only module constants are spliced in.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_CALLS = {"text", "literal_column", "exec_driver_sql", "execute", "copy", "executescript"}
# (file, function) -> why the built string is safe. Reviewed: adding one is a security decision.
ALLOWED = {
    ("labeler/services/stats.py", "_bucket_of"): "date formats from _BUCKET_FORMATS, the bucket checked first",
    ("labeler/services/bulk.py", "write_rows"): "INSERT/COPY into a BULK_TABLES table, the callers' column constants",
    ("labeler/services/bulk.py", "reserve_ids"): "the sequence or max(id) of a table of BULK_TABLES",
    ("db/engine.py", "_pragmas"): "the fixed PRAGMA tuple of the engine",
}


def _built(node: ast.expr) -> bool:
    """A string made at run time: an f-string with values, concatenation, %-formatting or .format()."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def _findings() -> list[tuple[str, str, int]]:
    found = []
    files = [*ROOT.glob("labeler/**/*.py"), *ROOT.glob("exports/**/*.py"), *ROOT.glob("db/*.py")]
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), filename=rel)
        innermost: dict[int, str] = {}  # ast.walk is breadth-first: a nested function comes after its parent
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for call in ast.walk(func):
                if not (isinstance(call, ast.Call) and call.args):
                    continue
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                if name in SQL_CALLS and _built(call.args[0]):
                    innermost[call.lineno] = func.name
        found += [(rel, fn, line) for line, fn in innermost.items()]
    return found


def test_no_sql_is_built_from_run_time_strings() -> None:
    unexpected = [f"{rel}:{line} in {fn}()" for rel, fn, line in _findings() if (rel, fn) not in ALLOWED]
    assert not unexpected, "SQL text built from strings (bind the values instead):\n" + "\n".join(unexpected)


def test_the_walk_sees_the_allowed_places() -> None:
    """The allow-list is not stale, and the walk really detects built SQL."""
    seen = {(rel, fn) for rel, fn, _ in _findings()}
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen
    assert _built(ast.parse('f"SELECT {x}"', mode="eval").body)
    assert _built(ast.parse('"SELECT " + x', mode="eval").body)
    assert not _built(ast.parse('"SELECT 1"', mode="eval").body)
