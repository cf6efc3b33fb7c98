"""The one security policy: who the request is, and whether it may do something to a node.

Principals: Everyone, Authenticated, `user:<login>`, `group:<name>`, and `role:<Role>` for the
global roles of the user's groups, ownership, and local roles granted on the node or its parents
(inherited until a node blocks inheritance). The node's ACL, built from its workflow state, maps
roles to permissions.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.events import NewResponse
from pyramid.interfaces import ISecurityPolicy
from pyramid.request import RequestLocalCache
from pyramid.session import SignedCookieSessionFactory
from pyramid.settings import asbool
from sqlalchemy import func, select

from .models import AuthToken, LocalRole, LoginFailure, Node, User
from .models.node import utcnow as utcnow_naive

_hasher = PasswordHasher()

LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
TOKEN_LIFETIME = dt.timedelta(hours=12)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login_throttled(dbsession: Any, login: str, address: str) -> bool:
    since = utcnow_naive() - LOGIN_WINDOW
    per_login = dbsession.scalar(select(func.count(LoginFailure.id)).where(
        LoginFailure.login == login, LoginFailure.at > since))
    per_address = dbsession.scalar(select(func.count(LoginFailure.id)).where(
        LoginFailure.address == address, LoginFailure.at > since))
    return per_login >= MAX_FAILURES_PER_LOGIN or per_address >= MAX_FAILURES_PER_ADDRESS


def authenticate(request: Any, login: str, password: str) -> tuple[User | None, str | None]:
    """The user, or None and why ('throttled' or 'invalid'); failures are recorded."""
    address = request.client_addr or ""
    dbsession = request.dbsession
    if login_throttled(dbsession, login, address):
        return None, "throttled"
    user = dbsession.scalar(select(User).where(User.login == login))
    if user is None or not check_password(user, password):
        dbsession.add(LoginFailure(login=login[:100], address=address[:64]))
        return None, "invalid"
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login = utcnow_naive()
    return user, None


def issue_token(request: Any, user: User) -> str:
    token = secrets.token_urlsafe(32)
    request.dbsession.add(AuthToken(digest=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
                                    expires=utcnow_naive() + TOKEN_LIFETIME))
    return token


def bearer_token(request: Any) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


class LocalRoles:
    """Local roles of the request's principals, loaded per node once and cached for the request."""

    def __init__(self, request: Any, principals: Iterable[str]) -> None:
        self.request = request
        self.principals = tuple(principals)
        self._by_node: dict[int, set[str]] = {}

    def prefetch(self, node_ids: Iterable[int]) -> None:
        missing = {i for i in node_ids if i not in self._by_node}
        if not missing:
            return
        for i in missing:
            self._by_node[i] = set()
        rows = self.request.dbsession.execute(select(LocalRole.node_id, LocalRole.role).where(
            LocalRole.node_id.in_(missing), LocalRole.principal.in_(self.principals)))
        for node_id, role in rows:
            self._by_node[node_id].add(role)

    def roles_on(self, node: Node) -> set[str]:
        chain: list[Node] = []
        for n in node.lineage():
            chain.append(n)
            if not n.inherit_roles:
                break
        self.prefetch(n.id for n in chain)
        roles: set[str] = set()
        for n in chain:
            roles |= self._by_node[n.id]
        return roles


class SecurityPolicy:
    def __init__(self) -> None:
        self.identity_cache = RequestLocalCache(self._load_identity)
        self.helper = ACLHelper()

    def _load_identity(self, request: Any) -> User | None:
        token = bearer_token(request)
        if token is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            row = request.dbsession.scalar(select(AuthToken).where(AuthToken.digest == digest))
            if row is None or row.expires < utcnow_naive():
                return None
            return row.user
        user_id = request.session.get("user_id")
        if user_id is None:
            return None
        return request.dbsession.get(User, user_id)

    def identity(self, request: Any) -> User | None:
        return self.identity_cache.get_or_create(request)

    def authenticated_userid(self, request: Any) -> str | None:
        user = self.identity(request)
        return user.login if user is not None else None

    def base_principals(self, request: Any) -> list[str]:
        user = self.identity(request)
        principals = [Everyone]
        if user is not None:
            principals += [Authenticated, user.principal]
            for group in user.groups:
                principals.append(group.principal)
                principals += [f"role:{r}" for r in group.role_list]
        return principals

    def local_roles(self, request: Any) -> LocalRoles:
        cache = request.__dict__.get("_portal_local_roles")
        if cache is None:
            principals = [p for p in self.base_principals(request) if p.startswith(("user:", "group:"))]
            cache = request.__dict__["_portal_local_roles"] = LocalRoles(request, principals)
        return cache

    def principals_for(self, request: Any, context: Any) -> list[str]:
        principals = self.base_principals(request)
        user = self.identity(request)
        if user is not None and isinstance(context, Node):
            roles = self.local_roles(request).roles_on(context)
            if context.owner == user.login:
                roles.add("Owner")
            principals += [f"role:{r}" for r in roles]
        return principals

    def permits(self, request: Any, context: Any, permission: str) -> Any:
        return self.helper.permits(context, self.principals_for(request, context), permission)

    def remember(self, request: Any, userid: str, **kw: Any) -> list[Any]:
        user = request.dbsession.scalar(select(User).where(User.login == userid))
        request.session.invalidate()
        request.session["user_id"] = user.id
        self.identity_cache.clear(request)
        return []

    def forget(self, request: Any, **kw: Any) -> list[Any]:
        request.session.invalidate()
        self.identity_cache.clear(request)
        return []


def prefetch_local_roles(request: Any, nodes: Iterable[Node]) -> None:
    """Load the local roles of many nodes in one query before checking each of them."""
    policy = request.registry.queryUtility(ISecurityPolicy)
    if isinstance(policy, SecurityPolicy) and policy.identity(request) is not None:
        policy.local_roles(request).prefetch(n.id for n in nodes)


def csrf_applies(request: Any) -> bool:
    """Bearer-token and JSON requests carry no ambient browser credentials a form could forge."""
    if bearer_token(request) is not None:
        return False
    return request.content_type != "application/json"


def includeme(config: Any) -> None:
    settings = config.get_settings()
    secure = asbool(settings.get("portal.secure_cookies", False))
    secret = settings.get("portal.session_secret")
    if not secret or secret.startswith("CHANGE-ME"):
        raise ValueError("portal.session_secret is not set: put a long random string in the .ini file")
    config.set_session_factory(SignedCookieSessionFactory(
        secret, cookie_name="portal_session", httponly=True, samesite="Lax", secure=secure,
        timeout=8 * 3600, reissue_time=600))
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True, callback=csrf_applies)
    config.set_security_policy(SecurityPolicy())
    config.add_subscriber(security_headers, NewResponse)


def security_headers(event: NewResponse) -> None:
    headers = event.response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
