"""Database-level immutability: triggers that make a table append-only on both engines.

Used by migrations. Keep each function's output stable: old migrations call it too.
"""

from __future__ import annotations

from alembic import op

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION cellbatch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def create_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of every row of `table`."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cellbatch_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cellbatch_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
        )


def drop_append_only(table: str) -> None:
    """Remove the triggers of create_append_only (downgrade only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def create_no_delete(table: str) -> None:
    """Refuse DELETE of rows of a GMP table: records are never hard-deleted (11.10(c))."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cellbatch_append_only()"
        )
        return
    op.execute(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END"
    )


def create_immutable_columns(table: str, columns: tuple[str, ...]) -> None:
    """Refuse any UPDATE that changes one of `columns` (e.g. an approved source text)."""
    name = f"{table}_immutable"
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF {changed} THEN RAISE EXCEPTION '{table}: {', '.join(columns)} never change' "
            "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$;"
        )
        op.execute(f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        return
    op.execute(
        f"CREATE TRIGGER {name} BEFORE UPDATE OF {', '.join(columns)} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table}: {', '.join(columns)} never change'); END"
    )


def drop_trigger(table: str, suffix: str) -> None:
    """Drop one trigger made above (downgrade only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
