"""Database wiring: engine, session factory, and `request.dbsession` joined to `request.tm`."""
from __future__ import annotations

from typing import Any

import transaction
import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from ..settings import SettingsError, portal_settings
from .meta import Base
from .node import Node, Portal, Unit
from .principals import AuthToken, Group, LocalRole, LoginFailure, User
from .history import Redirect, Revision, WorkflowEvent

configure_mappers()

__all__ = [
    "Base", "Node", "Portal", "Unit", "User", "Group", "LocalRole", "LoginFailure", "AuthToken",
    "Revision", "WorkflowEvent", "Redirect", "get_engine", "get_session_factory", "get_tm_session",
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


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def get_engine(settings: dict[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine)


def get_tm_session(session_factory: sessionmaker[Session], transaction_manager: Any, request: Any = None) -> Session:
    """A session joined to the transaction manager: commit and abort follow the transaction."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


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
            session = get_tm_session(session_factory, request.tm, request=request)
        return session

    config.add_request_method(dbsession, reify=True)


def new_transaction_manager() -> transaction.TransactionManager:
    return transaction.TransactionManager(explicit=True)
