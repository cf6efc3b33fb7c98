"""The one security policy: who the request is, and whether it may do something to a node.

Principals: Everyone, Authenticated, `user:<login>`, `group:<name>`, and `role:<Role>` for the
global roles of the user's groups, ownership, and local roles granted on the node or its parents
(inherited until a node blocks inheritance). The node's ACL, built from its workflow state, maps
roles to permissions.

Per request the policy caches the identity and the local roles; `act_as` is the supported way to
change who the request is (scripts, the demo loader, tests), because it resets both. The argon2
parameters are settings (`portal.argon2_*`): the hasher is built from them at start-up and kept on
the registry (`password_hasher(registry)`).

Sessions are kept on the server (`user_sessions`): the signed cookie carries a random token and
the table its SHA-256, looked up on every request (once, with the identity). A per-user
generation counter in the cookie would also end every session at once, but could not list a
user's sessions or end one of them, which managers need; and a row per session is where the
steps of a login in progress (a second factor to pass or to set up) are kept, which give no
identity. Logging out deletes the row, so a replayed cookie is anonymous; a password change, a
disabled or removed account end every session and API token of the user (`end_sessions`).
Sessions last 12 hours at most, and end after 8 idle hours (the cookie's own timeout).

Failed logins are throttled so that nobody can lock someone else out: 5 failures of an account
from one address stop that address and account pair, 20 from one address stop the address; after
5 failures of an account from anywhere, its password alone no longer logs in -- its second factor
is asked too, even on a remembered device -- and an account without one is stopped after 50
(guessing from 10 or more addresses). Counting is atomic: the attempt is written before it is
counted and checked, under PostgreSQL's advisory lock of the login (SQLite has one writer at a
time), so parallel guesses get no more tries. Unknown and disabled accounts cost the same
argon2 verification as known ones (against a dummy hash), so timing does not tell which exist.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import Any, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.interfaces import ISecurityPolicy
from pyramid.request import RequestLocalCache
from pyramid.session import SignedCookieSessionFactory
from pyramid.threadlocal import get_current_registry
from sqlalchemy import delete, func, select, text

from . import second_factor
from .models import AuthToken, LoginFailure, Node, User, UserSession
from .models.node import utcnow as utcnow_naive
from .settings import portal_settings
from .visibility import local_grants, role_chain

HASHER_KEY = "portal.password_hasher"
SESSION_COOKIE = "portal_session"  # the session factory's cookie (portal.pagecache keys users' pages by it)
LOCAL_ROLES_KEY = "_portal_local_roles"  # in request.__dict__; use forget_local_roles(), not this key
_DEFAULT_HASHER = PasswordHasher()  # argon2-cffi's defaults, = the portal.argon2_* defaults

LOGIN_WINDOW = dt.timedelta(minutes=15)
FAILURES_KEPT = dt.timedelta(days=1)
MAX_FAILURES_PER_PAIR = 5  # of one account from one address
MAX_FAILURES_PER_ADDRESS = 20
MAX_FAILURES_PER_LOGIN = 5  # from anywhere: then the second factor is asked even on a remembered device
MAX_FAILURES_PER_LOGIN_WITHOUT_FACTOR = 50  # from anywhere, for accounts without a second factor
MAX_CODE_FAILURES_PER_LOGIN = 10  # wrong second-factor codes of an account (its password is known)
TOKEN_LIFETIME = dt.timedelta(hours=12)
SESSION_LIFETIME = dt.timedelta(hours=12)  # at most; the cookie's timeout ends idle sessions sooner
PENDING_LIFETIME = dt.timedelta(minutes=10)  # a login waiting for its second factor
SESSION_KEY = "sid"  # the session token in the signed cookie
DUMMY_HASH_KEY = "portal.dummy_password_hash"
SESSION_CACHE_KEY = "_portal_user_session"  # in request.__dict__
TOUCH_EVERY = dt.timedelta(minutes=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _verify(password_hash: str, password: str) -> bool:
    """Any hasher verifies: the parameters are read from the stored hash itself."""
    try:
        return _DEFAULT_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User | None, password: str, registry: Any = None) -> bool:
    """Whether `password` is the user's. Without a user (or a hash, or for a disabled account) a
    dummy hash of the current settings is verified instead and False returned: the answer takes
    as long as for an account that exists."""
    if user is not None and user.password_hash and not user.disabled:
        return _verify(user.password_hash, password)
    registry = registry if registry is not None else get_current_registry()
    dummy = registry.get(DUMMY_HASH_KEY) if registry is not None else None
    _verify(dummy or _default_dummy_hash(), password)
    return False


@functools.cache
def _default_dummy_hash() -> str:
    """For an app without its own (never, once `includeme` ran): argon2-cffi's default cost."""
    return _DEFAULT_HASHER.hash(secrets.token_urlsafe(16))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address(request: Any) -> str:
    return (request.client_addr or "")[:64]


def _lock_login(dbsession: Any, login: str) -> None:
    """Serialise the attempts on one login until this transaction ends: PostgreSQL's advisory lock
    of the login's hash. SQLite needs none: a writing transaction holds the only write lock."""
    if dbsession.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"login:" + login.encode()).digest()[:8], "big", signed=True)
        dbsession.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def failure_counts(dbsession: Any, login: str, address: str, kind: str | None = None,
                   exclude: int | None = None) -> tuple[int, int, int]:
    """Recent failures of (the account from this address, the account, the address); `kind` limits
    the account's count to that kind of failure."""
    since = utcnow_naive() - LOGIN_WINDOW
    recent = [LoginFailure.at > since] + ([LoginFailure.id != exclude] if exclude is not None else [])

    def count(*where: Any) -> int:
        return dbsession.scalar(select(func.count(LoginFailure.id)).where(*recent, *where)) or 0

    per_login = count(LoginFailure.login == login, *([LoginFailure.kind == kind] if kind else []))
    return (count(LoginFailure.login == login, LoginFailure.address == address), per_login,
            count(LoginFailure.address == address))


def under_attack(dbsession: Any, login: str) -> bool:
    """Passwords of this account failed often lately: a correct one is not enough to log in."""
    return failure_counts(dbsession, login, "")[1] >= MAX_FAILURES_PER_LOGIN


def _attempt(request: Any, login: str, kind: str) -> LoginFailure:
    """Write the attempt as a failure first, under the login's lock, then count: parallel attempts
    see each other. It is deleted again if it succeeds or is refused unchecked."""
    dbsession = request.dbsession
    _lock_login(dbsession, login)
    # only the window counts; the audit log keeps the history
    dbsession.execute(delete(LoginFailure).where(LoginFailure.at < utcnow_naive() - FAILURES_KEPT))
    attempt = LoginFailure(login=login, address=_address(request), kind=kind)
    dbsession.add(attempt)
    dbsession.flush()
    return attempt


def authenticate(request: Any, login: str, password: str, record_login: bool = True) -> tuple[User | None, str | None]:
    """The user whose password this is, or None and why ('throttled' or 'invalid'); failures are
    recorded. A second factor, when the account has one, is checked next (`check_second_factor`).
    `record_login=False` only checks (e.g. the current password before a new one is set)."""
    login = login[:100]
    dbsession = request.dbsession
    attempt = _attempt(request, login, "password")
    pair, per_login, per_address = failure_counts(dbsession, login, attempt.address, exclude=attempt.id)
    user = dbsession.scalar(select(User).where(User.login == login))
    without_factor = user is None or not user.has_second_factor
    if (pair >= MAX_FAILURES_PER_PAIR or per_address >= MAX_FAILURES_PER_ADDRESS
            or (without_factor and per_login >= MAX_FAILURES_PER_LOGIN_WITHOUT_FACTOR)):
        dbsession.delete(attempt)
        return None, "throttled"
    if not check_password(user, password, request.registry) or user is None:  # a dummy hash for no user
        return None, "invalid"
    dbsession.delete(attempt)
    hasher = password_hasher(request.registry)
    if hasher.check_needs_rehash(user.password_hash):  # the argon2 settings changed since it was hashed
        user.password_hash = hash_password(password, hasher)
    if record_login:
        user.last_login = utcnow_naive()
    dbsession.flush()
    return user, None


def check_second_factor(request: Any, user: User, code: str) -> tuple[str | None, str | None]:
    """How the code passed ("totp" or "recovery"), or None and why ('throttled' or 'invalid');
    failures are recorded and throttled like passwords, plus 10 wrong codes per account."""
    dbsession = request.dbsession
    attempt = _attempt(request, user.login, "code")
    # read the last accepted step again under the login's lock: a parallel request with the same
    # code may have used it since `user` was loaded (each code is accepted once)
    dbsession.refresh(user)
    pair, codes, per_address = failure_counts(dbsession, user.login, attempt.address, kind="code",
                                              exclude=attempt.id)
    if pair >= MAX_FAILURES_PER_PAIR or per_address >= MAX_FAILURES_PER_ADDRESS \
            or codes >= MAX_CODE_FAILURES_PER_LOGIN:
        dbsession.delete(attempt)
        return None, "throttled"
    how = second_factor.verify(dbsession, user, code)
    if how is None:
        return None, "invalid"
    dbsession.delete(attempt)
    dbsession.flush()
    return how, None


def issue_token(request: Any, user: User, logged_in: dt.datetime | None = None) -> str:
    """A new token of `user`; `logged_in` (a renewed token's) is when the password was given,
    which the token's `created` keeps."""
    token = secrets.token_urlsafe(32)
    request.dbsession.execute(delete(AuthToken).where(AuthToken.user_id == user.id,
                                                      AuthToken.expires < utcnow_naive()))  # tidy up
    request.dbsession.add(AuthToken(digest=digest(token), user_id=user.id, created=logged_in or utcnow_naive(),
                                    expires=utcnow_naive() + TOKEN_LIFETIME, address=_address(request),
                                    user_agent=(request.user_agent or "")[:300]))
    return token


# -- sessions --------------------------------------------------------------------------------

def current_session(request: Any) -> UserSession | None:
    """The request's session row (any stage, not expired), looked up once per request."""
    if SESSION_CACHE_KEY in request.__dict__:
        return request.__dict__[SESSION_CACHE_KEY]
    row = None
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str) and token:
        row = request.dbsession.scalar(select(UserSession).where(UserSession.digest == digest(token)))
        if row is not None and (row.expires < utcnow_naive() or row.user.disabled):
            row = None
    request.__dict__[SESSION_CACHE_KEY] = row
    return row


def start_session(request: Any, user: User, stage: str = "full", how: str = "") -> UserSession:
    """A new session for `user` in a new cookie (no fixation): the request's old one ends."""
    old = current_session(request)
    if old is not None:
        request.dbsession.delete(old)
    request.session.invalidate()
    now = utcnow_naive()
    request.dbsession.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                        UserSession.expires < now))  # tidy up
    token = secrets.token_urlsafe(32)
    row = UserSession(digest=digest(token), user=user, stage=stage, created=now, last_seen=now,
                      expires=now + (SESSION_LIFETIME if stage == "full" else PENDING_LIFETIME),
                      address=_address(request), user_agent=(request.user_agent or "")[:300],
                      second_factor=how)
    request.dbsession.add(row)
    request.dbsession.flush()
    request.session[SESSION_KEY] = token
    request.__dict__[SESSION_CACHE_KEY] = row
    return row


def end_session(request: Any) -> None:
    """End the request's session (logout): its row goes, and the cookie is emptied."""
    row = current_session(request)
    if row is not None:
        request.dbsession.delete(row)
        request.dbsession.flush()
    request.session.invalidate()
    request.__dict__[SESSION_CACHE_KEY] = None


def end_sessions(dbsession: Any, user: User, keep: UserSession | None = None, tokens: bool = True) -> int:
    """End every session of `user` but `keep`, and (with `tokens`) every API token; how many."""
    query = select(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    sessions = dbsession.scalars(query).all()
    for row in sessions:  # one by one, so the flush sees them (portal.pagecache.people)
        dbsession.delete(row)
    ended = len(sessions)
    if tokens:
        ended += dbsession.execute(delete(AuthToken).where(AuthToken.user_id == user.id)).rowcount or 0
    dbsession.flush()
    return ended


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
        """The Bearer token's user, or the user of a fully logged-in session; never a disabled one."""
        token = bearer_token(request)
        if token is not None:
            row = request.dbsession.scalar(select(AuthToken).where(AuthToken.digest == digest(token)))
            if row is None or row.expires < utcnow_naive() or row.user.disabled:
                return None
            return row.user
        session = current_session(request)
        if session is None or session.stage != "full":
            return None
        now = utcnow_naive()
        if request.method not in SAFE_METHODS and now - session.last_seen > TOUCH_EVERY:
            session.last_seen = now  # only when writing anyway: reading requests stay read-only
        return session.user

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
            principals = [p for p in self.base_principals(request)
                          if p.startswith(("user:", "group:")) or p == Authenticated]
            cache = request.__dict__[LOCAL_ROLES_KEY] = LocalRoles(request, principals, user)
        return cache

    def forget_local_roles(self, request: Any) -> None:
        request.__dict__.pop(LOCAL_ROLES_KEY, None)

    def act_as(self, request: Any, user: User | None) -> None:
        """Reset every per-request cache: the identity, and the local roles loaded for the old one."""
        self.identity_cache.set(request, user)
        self.forget_local_roles(request)

    def principals_for(self, request: Any, context: Any) -> list[str]:
        """The base principals and the roles held on `context`: local ones, and Owner while
        ownership counts (`portal.workflow.ownership_counts`: with a writing role there, local or
        global), so revoking a user's roles also ends what they could do to their own items."""
        from .workflow import ownership_counts  # the ownership rule is the workflow's

        principals = self.base_principals(request)
        user = self.identity(request)
        if user is not None and isinstance(context, Node):
            roles = self.local_roles(request).roles_on(context)
            if context.owner == user.login:
                global_roles = {p[5:] for p in principals if p.startswith("role:")}
                if ownership_counts(roles | global_roles):
                    roles.add("Owner")
            principals += [f"role:{r}" for r in roles]
        return principals

    def permits(self, request: Any, context: Any, permission: str) -> Any:
        return self.helper.permits(context, self.principals_for(request, context), permission)

    def remember(self, request: Any, userid: str, stage: str = "full", how: str = "", **kw: Any) -> list[Any]:
        """A new session for the user `userid` (a login) at `stage`; `how` the second factor passed."""
        user = request.dbsession.scalar(select(User).where(User.login == userid))
        start_session(request, user, stage, how)
        self.identity_cache.clear(request)
        self.forget_local_roles(request)
        return []

    def forget(self, request: Any, **kw: Any) -> list[Any]:
        end_session(request)
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
    # verified for unknown logins, with this app's argon2 cost (see check_password)
    config.registry[DUMMY_HASH_KEY] = config.registry[HASHER_KEY].hash(secrets.token_urlsafe(16))
    config.set_session_factory(SignedCookieSessionFactory(
        settings.session_secret, cookie_name=SESSION_COOKIE, httponly=True, samesite="Lax",
        secure=settings.secure_cookies, timeout=8 * 3600, reissue_time=600))
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True, callback=csrf_applies)
    config.set_security_policy(SecurityPolicy())
    config.add_request_method(request_principals, "principals", property=True)
    config.include(".audit")  # the audit log of what this policy decides, and of sharing and publishing
