"""Database wiring: engine, session factory, and `request.dbsession` joined to `request.tm`."""
from __future__ import annotations

from typing import Any

import transaction
import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

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


def get_engine(settings: dict[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine)


def get_tm_session(session_factory: sessionmaker[Session], transaction_manager: Any, request: Any = None) -> Session:
    """A session joined to the transaction manager: commit and abort follow the transaction."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config: Any) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = settings.get("portal.engine") or get_engine(settings)
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
