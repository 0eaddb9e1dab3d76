"""The widget's query as a prepared statement on PostgreSQL.

Django sends queries with their parameters bound on the client and never prepares them (for
connection poolers' sake), so PostgreSQL parses and plans the widget's UNION on every cache
miss, which costs about as much as running it. Here that one query goes through a cursor that
binds on the server and prepares the statement once per connection, still inside Django's
cursor wrapper: query logging, ``assertNumQueries``, execute wrappers and error translation
see it as any other query. Other backends, psycopg 2, and ``WIDGET_PREPARED_QUERY = False``
run it as Django does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connection

from goodsassoc.conf import ga_settings

logger = logging.getLogger("goodsassoc")

# SQLSTATEs of a statement the server no longer (or already) knows: what a transaction-mode
# pooler that hands the connection's statements to another client looks like.
LOST = {"26000", "42P05"}
_lost = False  # met in this process: prepare no more
NEVER_BY_COUNT = 2**31


def preparing() -> bool:
    """Whether the widget's query is prepared on this database connection: on PostgreSQL with
    psycopg 3, in autocommit (Django's default). Inside a transaction (``ATOMIC_REQUESTS``) a
    statement lost by a pooler would abort the host's transaction, so there it runs unprepared."""
    if _lost or not ga_settings.WIDGET_PREPARED_QUERY or connection.vendor != "postgresql":
        return False
    if connection.in_atomic_block:
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    database = connection.settings_dict
    options = database.get("OPTIONS") or {}
    if database.get("DISABLE_SERVER_SIDE_CURSORS") or ("prepare_threshold" in options
                                                         and options["prepare_threshold"] is None):
        return False  # the host says it runs behind a transaction-mode pooler
    return is_psycopg3


def run(sql: str, params: Sequence[Any]) -> list[tuple]:
    """All rows of ``sql``, prepared where that is on (see ``preparing``)."""
    with connection.cursor() as cursor:
        if not preparing():
            cursor.execute(sql, params)
            return cursor.fetchall()
        plain, raw = cursor.cursor, connection.connection
        if raw.prepare_threshold is None:
            # Django turns preparing off on the connection, for every cursor; its own cursors
            # never prepare anyway (client-side binding), so a count no query reaches lets
            # this one prepare while nothing else changes.
            raw.prepare_threshold = NEVER_BY_COUNT
        cursor.cursor = _prepared_cursor_class()(raw)
        try:
            try:
                cursor.execute(sql, params)
            except DatabaseError as error:
                if getattr(error.__cause__, "sqlstate", None) not in LOST:
                    raise
                _give_up(error)
                cursor.cursor.close()
                cursor.cursor = plain
                cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            if cursor.cursor is not plain:  # (the wrapper closes the one it holds)
                plain.close()


def _give_up(error: DatabaseError) -> None:
    global _lost
    _lost = True
    logger.warning("goodsassoc: the database lost a prepared statement (%s); this process runs the widget's "
                   "query unprepared from now on. Behind a transaction-mode pooler, set "
                   "GOODSASSOC['WIDGET_PREPARED_QUERY'] = False.", error)


def reset() -> None:
    """Prepare again in this process after a lost statement (once the pooler is fixed, or in tests)."""
    global _lost
    _lost = False


_cursor_class: type | None = None


def _prepared_cursor_class() -> type:
    """Django's server-binding cursor for psycopg 3, told to prepare every statement it runs and
    to ask for its rows in binary (numbers then arrive without being parsed from text: about a
    third of the cost of reading a widget's rows)."""
    global _cursor_class
    if _cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparedCursor(ServerBindingCursor):
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                return super().execute(query, params, prepare=True, binary=True)

        _cursor_class = PreparedCursor
    return _cursor_class
