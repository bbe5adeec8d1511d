"""A small SQLite document store, one file per backend.

Documents are JSON objects grouped in collections; each keeps the sequence number it got when
first written, which gives stable page tokens, cursors and append-only feeds. Filters compare
top-level fields through `json_extract`, with expression indexes for the fields a backend
declares. Calls are synchronous: each one is a millisecond-scale local query, and a single
connection used from the event loop keeps writes trivially serialised.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (collection, key)
);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Owns one SQLite connection; every backend talks to its file only through this."""

    def __init__(self, path: str | Path, indexed_fields: Iterable[str] = ()) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        for field in indexed_fields:
            self._check_field(field)
            self._connection.execute(
                f"CREATE INDEX IF NOT EXISTS documents_{field} "
                f"ON documents (collection, json_extract(body, '$.{field}'))"
            )

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes so that a request's changes land together or not at all."""
        if self._connection.in_transaction:
            yield
            return
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def get_meta(self, name: str) -> str | None:
        row = self._connection.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._connection.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def next_number(self, name: str, start: int) -> int:
        """A counter that survives restarts, for document numbers and control numbers."""
        with self.transaction():
            current = self.get_meta(name)
            number = start if current is None else int(current) + 1
            self.set_meta(name, str(number))
        return number

    def insert_many(self, collection: str, documents: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Bulk load in one transaction; this is what keeps seeding fast."""
        with self.transaction():
            self._connection.executemany(
                "INSERT INTO documents (collection, key, body) VALUES (?, ?, ?)",
                ((collection, key, json.dumps(body)) for key, body in documents),
            )

    def put(self, collection: str, key: str, document: dict[str, Any]) -> int:
        """Insert or replace; a replaced document keeps its sequence number."""
        row = self._connection.execute(
            "INSERT INTO documents (collection, key, body) VALUES (?, ?, ?) "
            "ON CONFLICT (collection, key) DO UPDATE SET body = excluded.body RETURNING seq",
            (collection, key, json.dumps(document)),
        ).fetchone()
        return int(row[0])

    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        row = self._connection.execute(
            "SELECT body FROM documents WHERE collection = ? AND key = ?", (collection, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def page(
        self,
        collection: str,
        *,
        after: int = 0,
        limit: int | None = None,
        where: dict[str, Any] | None = None,
        above: tuple[str, int] | None = None,
        newest_first: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Documents after sequence `after`, and the sequence to continue from (None at end).

        `where` keeps documents whose fields equal the given value (or one of the values, for a
        list); `above` keeps those whose numeric field is greater than the given number (for
        feeds with their own counters). `newest_first` walks the sequence downwards, `after`
        then being the last sequence seen (0: from the newest).
        """
        clauses = ["collection = ?"]
        parameters: list[Any] = [collection]
        if newest_first:
            if after:
                clauses.append("seq < ?")
                parameters.append(after)
        else:
            clauses.append("seq > ?")
            parameters.append(after)
        for field, value in (where or {}).items():
            self._check_field(field)
            if isinstance(value, list | tuple):
                marks = ", ".join("?" * len(value))
                clauses.append(f"json_extract(body, '$.{field}') IN ({marks})")
                parameters.extend(value)
            else:
                clauses.append(f"json_extract(body, '$.{field}') = ?")
                parameters.append(value)
        if above is not None:
            self._check_field(above[0])
            clauses.append(f"json_extract(body, '$.{above[0]}') > ?")
            parameters.append(above[1])
        direction = "DESC" if newest_first else "ASC"
        sql = f"SELECT seq, body FROM documents WHERE {' AND '.join(clauses)}"
        sql += f" ORDER BY seq {direction}"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit + 1)
        rows = self._connection.execute(sql, parameters).fetchall()
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        documents = [json.loads(body) for _, body in rows]
        return documents, (rows[-1][0] if more else None)

    def find(self, collection: str, **where: Any) -> list[dict[str, Any]]:
        return self.page(collection, where=where)[0]

    def last_seq(self, collection: str) -> int:
        row = self._connection.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM documents WHERE collection = ?", (collection,)
        ).fetchone()
        return int(row[0])

    def recorded_response(self, scope: str, key: str) -> tuple[int, Any] | None:
        """The answer given the first time this idempotency key was used, if it was."""
        row = self._connection.execute(
            "SELECT status, body FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
        ).fetchone()
        return (int(row[0]), json.loads(row[1])) if row else None

    def record_response(self, scope: str, key: str, status: int, body: Any) -> None:
        self._connection.execute(
            "INSERT OR IGNORE INTO idempotency (scope, key, status, body) VALUES (?, ?, ?, ?)",
            (scope, key, status, json.dumps(body)),
        )

    @staticmethod
    def _check_field(field: str) -> None:
        if not field.replace("_", "").isalnum():
            raise ValueError(f"not a plain field name: {field!r}")
