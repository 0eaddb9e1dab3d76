"""The widget's query as a prepared statement on PostgreSQL.

Django sends queries with their parameters bound on the client and never prepares them (for
connection poolers' sake), so PostgreSQL parses and plans the widget's UNION on every cache
miss, which costs about as much as running it. Here that one query goes through a cursor that
binds on the server and prepares the statement once per connection, still inside Django's
cursor wrapper: query logging, ``assertNumQueries``, execute wrappers and error translation
see it as any other query. Other backends, psycopg 2, and ``WIDGET_PREPARED_QUERY = False``
run it as Django does.

Where the widget's query is the first of a request on a kept connection (a JSON widget
endpoint's is its only one), it also stands in for Django's connection health check
(``CONN_HEALTH_CHECKS``): instead of a ``SELECT 1`` before it, a connection found dead by the
query itself is closed and the query runs once more on a new one, which is what the health
check would have done. That saves a round trip to the database per cold widget.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection

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
    """All rows of ``sql``, prepared where that is on (see ``preparing``), standing in for the
    connection's health check where that is due (see ``stands_in``)."""
    if not stands_in():
        return _run(sql, params)
    connection.health_check_done = True
    try:
        return _run(sql, params)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        if raw is not None and not raw.closed and not getattr(raw, "broken", False):
            raise  # the connection is fine: a real error
        connection.close()  # died while idle, e.g. the database restarted: as the health check would
        return _run(sql, params)


def stands_in() -> bool:
    """Whether the widget's query may stand in for Django's health check of this connection: on
    PostgreSQL, with ``CONN_HEALTH_CHECKS`` on, a connection kept from an earlier request and
    not yet used in this one, outside a transaction (Django's pool checks its connections
    itself). Anywhere else the connection is checked as Django does."""
    return (connection.connection is not None and getattr(connection, "health_check_enabled", False)
            and getattr(connection, "health_check_done", True) is False and connection.vendor == "postgresql"
            and not connection.in_atomic_block and getattr(connection, "pool", None) is None)


def _run(sql: str, params: Sequence[Any]) -> list[tuple]:
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
