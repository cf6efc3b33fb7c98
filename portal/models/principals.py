"""Accounts, groups, local roles and the records that protect logins: failed attempts, browser
sessions and API tokens (only digests of their secrets are stored), the second factor's recovery
codes and the devices where it is remembered (see portal.security and portal.second_factor)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .node import utcnow

user_groups = Table(
    "user_groups", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Group(Base):
    """A group of users; `roles` are granted on the whole portal (e.g. the county reviewers)."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")  # space-separated global roles

    @property
    def principal(self) -> str:
        return f"group:{self.name}"

    @property
    def role_list(self) -> list[str]:
        return self.roles.split()


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    fullname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # A disabled account cannot log in and has no session or token (portal.accounts.disable_user).
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # TOTP (RFC 6238): the base32 secret once enrolment is confirmed, when, and the last time step
    # a code was accepted for -- a code is accepted once only (RFC 6238 section 5.2).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled: Mapped[dt.datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    groups: Mapped[list[Group]] = relationship(secondary=user_groups, lazy="selectin")

    @property
    def principal(self) -> str:
        return f"user:{self.login}"

    @property
    def has_second_factor(self) -> bool:
        return bool(self.totp_secret and self.totp_enrolled)


class LocalRole(Base):
    """A role granted to a principal on a node and, unless blocked, on everything below it."""

    __tablename__ = "local_roles"
    __table_args__ = (UniqueConstraint("node_id", "principal", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    principal: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(30))


class LoginFailure(Base):
    """One failed login (`kind` "password") or second-factor code (`kind` "code"); recent rows
    throttle an account and address pair, an address, and an account (portal.security)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="password", server_default="password")


class AuthToken(Base):
    """An API token from `@login`; only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    user: Mapped[User] = relationship(lazy="joined")


class UserSession(Base):
    """A browser session: the cookie carries a random token, this row its SHA-256.

    `stage` is "full" once the user is logged in; "code" (the second factor is asked next) and
    "enrol" (a second factor must be set up first) are the steps of a login in progress, which
    give no identity. Deleting the row ends the session wherever its cookie is replayed.
    """

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(10), default="full")
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # how the second factor was passed: "totp", "recovery", "device" (remembered), "" (none)
    second_factor: Mapped[str] = mapped_column(String(20), default="")
    user: Mapped[User] = relationship(lazy="joined")


class RecoveryCode(Base):
    """A one-time code that stands in for the second factor; only its SHA-256 is stored (each has
    80 random bits, so a slow hash would add nothing, as for tokens)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    used: Mapped[dt.datetime | None] = mapped_column(DateTime)


class TrustedDevice(Base):
    """A browser where the user passed the second factor and asked to be remembered: its cookie
    carries a random token, this row the SHA-256; the password is still asked every time."""

    __tablename__ = "trusted_devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
