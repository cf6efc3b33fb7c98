"""The one security policy: who the request is, and whether it may do something to a node.

Principals: Everyone, Authenticated, `user:<login>`, `group:<name>`, and `role:<Role>` for the
global roles of the user's groups, ownership, and local roles granted on the node or its parents
(inherited until a node blocks inheritance). The node's ACL, built from its workflow state, maps
roles to permissions.

Per request the policy caches the identity and the local roles; `act_as` is the supported way to
change who the request is (scripts, the demo loader, tests), because it resets both. The argon2
parameters are settings (`portal.argon2_*`): the hasher is built from them at start-up and kept on
the registry (`password_hasher(registry)`).
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
from pyramid.threadlocal import get_current_registry
from sqlalchemy import func, select

from .models import AuthToken, LoginFailure, Node, User
from .models.node import utcnow as utcnow_naive
from .settings import portal_settings
from .visibility import local_grants, role_chain

HASHER_KEY = "portal.password_hasher"
LOCAL_ROLES_KEY = "_portal_local_roles"  # in request.__dict__; use forget_local_roles(), not this key
_DEFAULT_HASHER = PasswordHasher()  # argon2-cffi's defaults, = the portal.argon2_* defaults

LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
TOKEN_LIFETIME = dt.timedelta(hours=12)


def password_hasher(registry: Any) -> PasswordHasher:
    """The hasher built from this app's `portal.argon2_*` settings."""
    return registry[HASHER_KEY]


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """Hash with `hasher`; without one (e.g. `portal.cli.add_user`, which has no request), with the
    hasher of the app whose registry is current (a web request, or a script: `script_request`
    pushes it), else with argon2-cffi's defaults."""
    if hasher is None:
        hasher = get_current_registry().get(HASHER_KEY, _DEFAULT_HASHER)
    return hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Any hasher verifies: the parameters are read from the stored hash itself."""
    if not user.password_hash:
        return False
    try:
        return _DEFAULT_HASHER.verify(user.password_hash, password)
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
    hasher = password_hasher(request.registry)
    if hasher.check_needs_rehash(user.password_hash):  # the argon2 settings changed since it was hashed
        user.password_hash = hash_password(password, hasher)
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

    def __init__(self, request: Any, principals: Iterable[str], user: User | None = None) -> None:
        self.request = request
        self.principals = tuple(principals)
        self.user = user  # whose roles these are: a change of identity makes them stale
        self._by_node: dict[int, set[str]] = {}

    def prefetch(self, nodes: Iterable[Node]) -> None:
        missing = [n for n in nodes if n.id not in self._by_node]
        if not missing:
            return
        for node_id, grants in local_grants(self.request.dbsession, missing, self.principals).items():
            self._by_node[node_id] = {role for _principal, role in grants}

    def roles_on(self, node: Node) -> set[str]:
        chain = role_chain(node)
        self.prefetch(chain)
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
        """Cached for the request, and rebuilt when the identity changed (even when it was changed
        by writing `identity_cache` directly instead of through `act_as`)."""
        user = self.identity(request)
        cache = request.__dict__.get(LOCAL_ROLES_KEY)
        if cache is None or cache.user is not user:
            principals = [p for p in self.base_principals(request) if p.startswith(("user:", "group:"))]
            cache = request.__dict__[LOCAL_ROLES_KEY] = LocalRoles(request, principals, user)
        return cache

    def forget_local_roles(self, request: Any) -> None:
        request.__dict__.pop(LOCAL_ROLES_KEY, None)

    def act_as(self, request: Any, user: User | None) -> None:
        """Reset every per-request cache: the identity, and the local roles loaded for the old one."""
        self.identity_cache.set(request, user)
        self.forget_local_roles(request)

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
        self.forget_local_roles(request)
        return []

    def forget(self, request: Any, **kw: Any) -> list[Any]:
        request.session.invalidate()
        self.identity_cache.clear(request)
        self.forget_local_roles(request)
        return []


def act_as(request: Any, user: User | None) -> None:
    """Run what follows on this request as `user` (None: anonymous). For requests without a login:
    scripts, the demo loader, tests. Switching users on one request is safe: every cache is reset."""
    request.registry.getUtility(ISecurityPolicy).act_as(request, user)


def forget_local_roles(request: Any) -> None:
    """Local roles were granted or revoked in this request: load them again when next asked."""
    policy = request.registry.queryUtility(ISecurityPolicy)
    if isinstance(policy, SecurityPolicy):
        policy.forget_local_roles(request)


def request_principals(request: Any) -> list[str]:
    """`request.principals`: Everyone, Authenticated, the user, its groups and their global roles.
    Local roles are not included (they depend on the node); this is what search filters by.
    Not reified, so it follows `act_as`; the identity underneath is cached."""
    return request.registry.getUtility(ISecurityPolicy).base_principals(request)


def prefetch_local_roles(request: Any, nodes: Iterable[Node]) -> None:
    """Load the local roles of many nodes in one query before checking each of them."""
    policy = request.registry.queryUtility(ISecurityPolicy)
    if isinstance(policy, SecurityPolicy) and policy.identity(request) is not None:
        policy.local_roles(request).prefetch(nodes)


def csrf_applies(request: Any) -> bool:
    """Bearer-token and JSON requests carry no ambient browser credentials a form could forge."""
    if bearer_token(request) is not None:
        return False
    return request.content_type != "application/json"


def includeme(config: Any) -> None:
    settings = portal_settings(config.registry)  # the secret was checked when it was parsed
    config.registry[HASHER_KEY] = settings.password_hasher()
    config.set_session_factory(SignedCookieSessionFactory(
        settings.session_secret, cookie_name="portal_session", httponly=True, samesite="Lax",
        secure=settings.secure_cookies, timeout=8 * 3600, reissue_time=600))
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True, callback=csrf_applies)
    config.set_security_policy(SecurityPolicy())
    config.add_request_method(request_principals, "principals", property=True)
    config.add_subscriber(security_headers, NewResponse)


def security_headers(event: NewResponse) -> None:
    headers = event.response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
