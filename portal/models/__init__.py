"""Database wiring: engine, session factory, and `request.dbsession` joined to `request.tm`."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

import transaction
import zope.sqlalchemy
from pyramid.tweens import INGRESS
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from ..settings import SettingsError, portal_settings
from .meta import Base
from .node import Node, Portal, Unit
from .principals import (AuthToken, Group, LocalRole, LoginFailure, RecoveryCode, TrustedDevice, User,  # noqa: F401
                         UserSession)
from .audit import AuditEntry  # noqa: F401
from .history import Redirect, Revision, WorkflowEvent
from .pagetags import PageTag  # noqa: F401

configure_mappers()

__all__ = [
    "Base", "Node", "Portal", "Unit", "User", "Group", "LocalRole", "LoginFailure", "AuthToken",
    "Revision", "WorkflowEvent", "Redirect", "get_engine", "get_session_factory", "get_tm_session",
    "writing_engine",
]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # Python's sqlite3 would send BEGIN only before the first write and commit on its own when a
    # SAVEPOINT is released outside it; SQLAlchemy's pysqlite recipe hands transactions to us.
    dbapi_connection.isolation_level = None


# The execution option that makes SQLite begin with the write lock (see `_sqlite_begin`).
WRITE_LOCK = "portal_sqlite_write_lock"
# Request methods that only read; every other request (and every script request) writes.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Set in the environ by `reading_tween` for requests that only read.
READS_ONLY = "portal.reads_only"


# How long a writer waits in line behind this process's other writers; after that it asks SQLite
# itself, which waits busy_timeout (5 s) more.
WRITER_QUEUE_TIMEOUT = 30.0
_QUEUE_KEY = "portal_writer_queue"
_queues: WeakKeyDictionary[Any, threading.Lock] = WeakKeyDictionary()
_queues_guard = threading.Lock()


def _writer_queue(pool: Any) -> threading.Lock:
    with _queues_guard:
        return _queues.setdefault(pool, threading.Lock())


def _sqlite_begin(connection: Any) -> None:
    """BEGIN IMMEDIATE for writers, a plain (deferred) BEGIN for readers.

    A deferred transaction that has read cannot become the writer once another connection has
    committed since its snapshot: SQLite answers "database is locked" at once (busy_timeout does
    not apply to it), so concurrent writing requests failed or waited and failed again (of 50
    disclosure creations at once, 43 ended in a 500; an attack run saw them take 125 s). Taking the
    write lock at BEGIN makes each writer read the latest state; readers keep WAL's snapshots and
    never wait.

    Writers of one process also queue on a lock of their own before asking SQLite: SQLite's busy
    handler polls (sleeping up to 100 ms between tries), so the lock sat idle between writers
    and an unlucky one could wait past busy_timeout while later ones went first. The lock is left
    at commit or rollback (and, should neither come, when the connection goes back to the pool).
    """
    if not connection.get_execution_options().get(WRITE_LOCK):
        connection.exec_driver_sql("BEGIN")
        return
    queue = _writer_queue(connection.engine.pool)
    if queue.acquire(timeout=WRITER_QUEUE_TIMEOUT):
        connection.info[_QUEUE_KEY] = queue
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _leave_queue(connection.info)
        raise


def _leave_queue(info: dict[str, Any]) -> None:
    queue = info.pop(_QUEUE_KEY, None)
    if queue is not None:
        queue.release()


def _sqlite_end(connection: Any) -> None:
    _leave_queue(connection.info)


def _sqlite_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        _leave_queue(record.info)


def get_engine(settings: dict[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        event.listen(engine, "checkin", _sqlite_checkin)
    return engine


@lru_cache(maxsize=None)
def writing_engine(engine: Engine) -> Engine:
    """The same engine (pool, events) whose transactions begin with SQLite's write lock.

    On PostgreSQL the option means nothing: rows are locked as they are written (the 索引号
    counter's UPDATE), and readers are never blocked."""
    return engine.execution_options(**{WRITE_LOCK: True})


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine)


def get_tm_session(session_factory: sessionmaker[Session], transaction_manager: Any, request: Any = None, *,
                   writing: bool = False) -> Session:
    """A session joined to the transaction manager: commit and abort follow the transaction.

    `writing`: the transaction will write, so on SQLite it begins with the write lock."""
    options: dict[str, Any] = {"info": {"request": request}}
    bind = session_factory.kw.get("bind")
    if writing and bind is not None:
        options["bind"] = writing_engine(bind)
    dbsession = session_factory(**options)
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def reading_tween(handler: Any, registry: Any) -> Any:
    """Mark the web requests that only read (GET, HEAD, OPTIONS): their session begins without the
    write lock. Requests that never pass the tweens (`portal` commands, scripts) write."""
    def tween(request: Any) -> Any:
        request.environ[READS_ONLY] = request.method in SAFE_METHODS
        return handler(request)
    return tween


EXPLICIT_MANAGER = "pyramid_tm.explicit_manager"


def includeme(config: Any) -> None:
    """`tm.manager_hook` is pyramid_tm's own key, not an operator's choice: the portal's code and
    scripts use explicit transaction managers (`new_transaction_manager`), so it is set here through
    Pyramid's API rather than left to each .ini, and a different value is refused."""
    hook = config.get_settings().get("tm.manager_hook", EXPLICIT_MANAGER)
    if hook != EXPLICIT_MANAGER:
        raise SettingsError("tm.manager_hook", hook, f"{EXPLICIT_MANAGER} (or leave it out)")
    config.add_settings({"tm.manager_hook": EXPLICIT_MANAGER})
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    settings = portal_settings(config.registry)
    engine = settings.engine or get_engine(dict(settings.sqlalchemy))
    session_factory = get_session_factory(engine)
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request: Any) -> Session:
        session = request.environ.get("app.dbsession")
        if session is None:
            writing = not request.environ.get(READS_ONLY, False)
            session = get_tm_session(session_factory, request.tm, request=request, writing=writing)
        return session

    config.add_request_method(dbsession, reify=True)
    config.add_tween("portal.models.reading_tween", under=INGRESS)


def new_transaction_manager() -> transaction.TransactionManager:
    return transaction.TransactionManager(explicit=True)
