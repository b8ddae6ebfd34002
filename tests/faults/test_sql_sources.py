"""No SQL is built from strings in the services: every value reaches PostgreSQL as a bind parameter.

The sources of shared/, services/ and deploy/ are parsed (ast, not grep, so a line break or an alias
cannot hide anything) and two things are flagged:
1. string building (f-string, `.format()`, `%`, `+` with a literal) whose literal text looks like SQL;
2. a call of an SQL entry point (`text`, `execute`, `executemany`, `fetch`, `fetchrow`, `fetchval`,
   `exec_driver_sql`, `copy_*`) whose statement argument is built in place rather than a literal or a
   name.
A hit fails the test unless it is in ALLOWED with the reason it is safe.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src")), ROOT / "deploy" / "src"]

SQL_WORDS = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ON\s+CONFLICT|CREATE\s+(TABLE|DATABASE|INDEX)"
    r"|DROP\s+(TABLE|DATABASE)|ALTER\s+TABLE|TRUNCATE\b|\bWHERE\b.*=)",
    re.IGNORECASE | re.DOTALL,
)
SQL_CALLS = frozenset(
    {
        "text",
        "execute",
        "executemany",
        "fetch",
        "fetchrow",
        "fetchval",
        "exec_driver_sql",
        "copy_records_to_table",
    }
)

# (path relative to the repository, a fragment of the flagged source) → why it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "services/writer/src/vosync/writer/cache_rows.py",
        "_NEWER_SUCCESS",
    ): "only a constant SQL fragment of the same module is interpolated; every value is a $n parameter",
    (
        "services/writer/src/vosync/writer/gateway_sql.py",
        "_ITEMS",
    ): "UPDATE/INSERT are assembled once at import from constant SQL fragments of the same module"
    " (_ITEMS, _NEW, _data_sources); every value is a $n parameter",
    (
        "shared/src/vosync/shared/db/migrations/versions/0003_gateways_raw_data_computed.py",
        "_RAW_DATA",
    ): "DDL from the migration's own constant expression and VIRTUAL/STORED chosen by server version",
    (
        "shared/src/vosync/shared/db/migrations/versions/0006_retention_and_seed_shapes.py",
        "{expression}",
    ): "DDL from the migration's own constant expressions (_RAW_DATA, _RAW_DATA_0003) and VIRTUAL/STORED"
    " chosen by server version",
    (
        "deploy/src/vosync/deploy/embedded.py",
        "self.database",
    ): "the database name is checked to be a plain identifier in EmbeddedPostgres.__init__"
    " (psql at set-up only)",
}


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    source: str
    why: str

    def allowed(self) -> bool:
        return any(path == self.path and fragment in self.source for path, fragment in ALLOWED)


def _literal_text(node: ast.AST) -> str:
    """The constant string parts of a built string."""
    parts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return " ".join(parts)


def _is_built_string(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return isinstance(node.func.value, ast.Constant | ast.JoinedStr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        sides = (node.left, node.right)
        return any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides) or any(
            _is_built_string(s) for s in sides
        )
    return False


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def scan(path: Path) -> list[Hit]:
    source = path.read_text()
    tree = ast.parse(source, str(path))
    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    hits: list[Hit] = []
    for node in ast.walk(tree):
        why = None
        if _is_built_string(node) and SQL_WORDS.search(_literal_text(node)):
            why = "SQL text built from strings"
        elif (
            isinstance(node, ast.Call)
            and _call_name(node) in SQL_CALLS
            and node.args
            and _is_built_string(node.args[0])
        ):
            why = f"{_call_name(node)}() of a built string"
        if why is not None:
            segment = ast.get_source_segment(source, node) or ""
            hits.append(Hit(rel, getattr(node, "lineno", 0), segment, why))
    return hits


def all_hits() -> list[Hit]:
    return [hit for base in SOURCES for path in sorted(base.rglob("*.py")) for hit in scan(path)]


def test_no_sql_is_built_from_strings() -> None:
    hits = all_hits()
    offending = [f"{h.path}:{h.line}: {h.why}: {h.source[:100]!r}" for h in hits if not h.allowed()]
    assert not offending, (
        "SQL built from strings (bind the values, or add to ALLOWED with a reason):\n" + "\n".join(offending)
    )
    used = {key for key in ALLOWED if any(h.path == key[0] and key[1] in h.source for h in hits)}
    assert used == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - used}"


def test_the_scanner_catches_what_it_must(tmp_path: Path) -> None:
    """The scanner flags the usual ways of building SQL, and leaves bound statements alone."""
    bad = [
        "conn.execute(f\"SELECT * FROM gateways WHERE name = '{name}'\")",
        'session.execute(text("DELETE FROM vos_instances WHERE id = %s" % instance_id))',
        'q = "UPDATE gateways SET is_online = {} WHERE id = 1".format(flag)',
        'await pool.fetch("SELECT id FROM vos_instances WHERE name = \'" + name + "\'")',
        'sql = f"INSERT INTO t (a) VALUES ({v})"',
    ]
    good = [
        'await conn.fetch("SELECT id FROM vos_instances WHERE id = $1", instance_id)',
        "await conn.execute(UPSERT, *args)",
        'log.info(f"{count} rows selected from the table")',
        "select(_T).where(_T.c.id == instance_id)",
    ]
    probe = tmp_path / "probe.py"
    for snippet in bad:
        probe.write_text(snippet + "\n")
        assert scan(probe), f"not caught: {snippet}"
    for snippet in good:
        probe.write_text(snippet + "\n")
        assert not scan(probe), f"false alarm: {snippet}"
