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

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from goodsassoc.conf import ga_settings

logger = logging.getLogger("goodsassoc")

# SQLSTATEs of a statement the server no longer (or already) knows: what a transaction-mode
# pooler that hands the connection's statements to another client looks like.
LOST = {"26000", "42P05"}
_lost = False  # met in this process: prepare no more
NEVER_BY_COUNT = 2**31


def preparing(db: BaseDatabaseWrapper | None = None) -> bool:
    """Whether the widget's query is prepared on this database connection: on PostgreSQL with
    psycopg 3, in autocommit (Django's default). Inside a transaction (``ATOMIC_REQUESTS``) a
    statement lost by a pooler would abort the host's transaction, so there it runs unprepared."""
    db = db or connections[DEFAULT_DB_ALIAS]
    if _lost or not ga_settings.WIDGET_PREPARED_QUERY or db.vendor != "postgresql":
        return False
    if db.in_atomic_block:
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    database = db.settings_dict
    options = database.get("OPTIONS") or {}
    if database.get("DISABLE_SERVER_SIDE_CURSORS") or ("prepare_threshold" in options
                                                         and options["prepare_threshold"] is None):
        return False  # the host says it runs behind a transaction-mode pooler
    return is_psycopg3


def run(sql: str, params: Sequence[Any]) -> list[tuple]:
    """All rows of ``sql``, prepared where that is on (see ``preparing``), standing in for the
    connection's health check where that is due (see ``stands_in``)."""
    db = connections[DEFAULT_DB_ALIAS]
    if not stands_in(db):
        return _run(db, sql, params)
    db.health_check_done = True
    try:
        return _run(db, sql, params)
    except (OperationalError, InterfaceError):
        raw = db.connection
        if raw is not None and not raw.closed and not getattr(raw, "broken", False):
            raise  # the connection is fine: a real error
        db.close()  # died while idle, e.g. the database restarted: as the health check would
        return _run(db, sql, params)


def stands_in(db: BaseDatabaseWrapper | None = None) -> bool:
    """Whether the widget's query may stand in for Django's health check of this connection: on
    PostgreSQL, with ``CONN_HEALTH_CHECKS`` on, a connection kept from an earlier request and
    not yet used in this one, outside a transaction (Django's pool checks its connections
    itself). Anywhere else the connection is checked as Django does."""
    db = db or connections[DEFAULT_DB_ALIAS]
    return (db.connection is not None and getattr(db, "health_check_enabled", False)
            and getattr(db, "health_check_done", True) is False and db.vendor == "postgresql"
            and not db.in_atomic_block and getattr(db, "pool", None) is None)


def _run(db: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple]:
    if not preparing(db):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    db.close_if_health_check_failed()  # (as Django's own cursor() does)
    db.ensure_connection()
    # Django's cursor wrapper around this connection's kept prepared cursor: query logging,
    # ``assertNumQueries``, execute wrappers and error translation work as for any query.
    cursor = db._prepare_cursor(_kept_cursor(db))
    try:
        cursor.execute(sql, params)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) not in LOST:
            raise
        _give_up(error)
        return _run(db, sql, params)  # unprepared from now on
    return cursor.fetchall()


def _kept_cursor(db: BaseDatabaseWrapper) -> Any:
    """The connection's cursor for the widget's query, made once per database connection and
    kept open: a psycopg cursor copies the connection's adapters when it is made, which cost a
    cold widget more than binding its parameters."""
    raw = db.connection
    kept = getattr(db, "_goodsassoc_cursor", None)
    if kept is not None and not kept.closed and kept.connection is raw:
        return kept
    if raw.prepare_threshold is None:
        # Django turns preparing off on the connection, for every cursor; its own cursors
        # never prepare anyway (client-side binding), so a count no query reaches lets
        # this one prepare while nothing else changes.
        raw.prepare_threshold = NEVER_BY_COUNT
    kept = db._goodsassoc_cursor = _prepared_cursor_class()(raw)
    return kept


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
