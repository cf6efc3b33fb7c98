"""The staff second factor: TOTP codes (RFC 6238, with pyotp), recovery codes, remembered devices,
and the rule of who must use one.

Why TOTP: the county plan gives every staff member a personal key (CA认证) later; until then any
authenticator app (the ones of WeChat and Alipay included) works offline and costs nothing. The
enrolment QR code is drawn here by segno as inline SVG, so the secret never travels to a QR
service. Codes are 6 digits for 30 s, accepted one step either side for clock drift, and each
time step once only (`User.totp_last_step`): a code seen over a shoulder or in a proxy log cannot
be replayed. Ten recovery codes (80 random bits each, stored as SHA-256) stand in for a lost phone,
each once. A browser where the factor was passed may be remembered for
`portal.remember_device_days` by a cookie whose token's digest is in `trusted_devices`; the
password is still asked there every time, and the factor is asked anyway while the account is
under a password-guessing attack (portal.security).

Who must use it (`required`): with `portal.require_second_factor` (on unless an .ini turns it
off, as development.ini does for the demo accounts), everyone who may publish -- the managers and
reviewers of the portal (global roles) and local reviewers; and the editors of the units listed in
`portal.second_factor_units` (`*`: every unit). An account that must use one and has none is sent
to enrolment right after its password and can do nothing else until it has enrolled.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

import pyotp
import segno
from sqlalchemy import delete, func, select

from .models import LocalRole, Node, RecoveryCode, TrustedDevice, User
from .models.node import utcnow
from .settings import portal_settings

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed from paper
RECOVERY_LENGTH = 16  # 16 x log2(31) = 79 bits
VALID_WINDOW = 1  # steps of 30 s either side
DEVICE_COOKIE = "portal_device"
PUBLISHING_ROLES = frozenset({"Manager", "Reviewer"})
EDITING_ROLES = frozenset({"Contributor", "Editor", "Reviewer"})


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- TOTP ------------------------------------------------------------------------------------

def new_secret() -> str:
    """160 random bits, as RFC 4226 recommends, in base32 for authenticator apps."""
    return pyotp.random_base32(32)


def pending_secret(request: Any, session_digest: str, nonce: str) -> str:
    """The secret of an enrolment in progress, derived rather than stored.

    The browser's cookie session holds only `nonce` (random, worthless alone); the secret is an
    HMAC of it and the server-side session under the portal's secret key, so neither the cookie
    nor the database tells it, and a GET that shows it writes nothing. A new nonce (after an
    enrolment, or after the factor is removed) gives a new secret.
    """
    key = hashlib.sha256(b"portal.second_factor.enrol:" + portal_settings(request.registry).session_secret.encode())
    mac = hmac.new(key.digest(), f"{session_digest}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:20]).decode()  # 160 bits, 32 base32 characters, as new_secret()


def issuer(dbsession: Any) -> str:
    """The name the authenticator app shows above the code: the portal's title."""
    return dbsession.scalar(select(Node.title).where(Node.path == "/")) or "Huangmei Portal"


def provisioning_uri(user: User, secret: str, issuer_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=issuer_name)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline <svg> element (segno writes nothing but the modules)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _normalise_code(code: str) -> str:
    return "".join(str(code or "").split())


def matching_step(secret: str, code: str, after: int | None = None, at: dt.datetime | None = None) -> int | None:
    """The time step whose code `code` is, within the window, later than `after`; else None."""
    code = _normalise_code(code)
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at or dt.datetime.now(dt.timezone.utc))
    found = None
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step  # keep looking: compare every step, so the time does not tell which matched
    return found


def accept_code(user: User, code: str) -> bool:
    """A current code of the user's factor, not used before: accepted, and then used up."""
    if not user.has_second_factor:
        return False
    step = matching_step(user.totp_secret, code, after=user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def enrol(dbsession: Any, user: User, secret: str, step: int | None = None) -> list[str]:
    """Make `secret` the user's factor (confirmed by a code of `step`); returns new recovery codes."""
    user.totp_secret = secret
    user.totp_enrolled = utcnow()
    user.totp_last_step = step
    forget_devices(dbsession, user)
    return new_recovery_codes(dbsession, user)


def remove(dbsession: Any, user: User) -> None:
    """No factor any more: its secret, recovery codes and remembered devices go."""
    user.totp_secret = None
    user.totp_enrolled = None
    user.totp_last_step = None
    dbsession.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    forget_devices(dbsession, user)


# -- recovery codes --------------------------------------------------------------------------

def _normalise_recovery(code: str) -> str:
    return "".join(c for c in str(code or "").upper() if c.isalnum())


def new_recovery_codes(dbsession: Any, user: User) -> list[str]:
    """Replace the user's recovery codes; the codes are shown once and only their digests kept."""
    dbsession.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    dbsession.add_all(RecoveryCode(user_id=user.id, digest=digest(code)) for code in codes)
    dbsession.flush()
    return ["-".join(code[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for code in codes]


def use_recovery_code(dbsession: Any, user: User, code: str) -> bool:
    code = _normalise_recovery(code)
    if len(code) != RECOVERY_LENGTH or not user.has_second_factor:
        return False
    row = dbsession.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.digest == digest(code), RecoveryCode.used.is_(None)))
    if row is None:
        return False
    row.used = utcnow()
    return True


def recovery_codes_left(dbsession: Any, user: User) -> int:
    return dbsession.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used.is_(None))) or 0


def verify(dbsession: Any, user: User, code: str) -> str | None:
    """How `code` passed the factor ("totp" or "recovery"), or None."""
    if accept_code(user, code):
        return "totp"
    if use_recovery_code(dbsession, user, code):
        return "recovery"
    return None


# -- remembered devices ----------------------------------------------------------------------

def remember_device(request: Any, response: Any, user: User) -> bool:
    """Remember this browser for the user (sets the cookie on `response`); False when the
    settings say never."""
    days = portal_settings(request.registry).remember_device_days
    if days <= 0:
        return False
    token = secrets.token_urlsafe(32)
    request.dbsession.add(TrustedDevice(
        digest=digest(token), user_id=user.id, expires=utcnow() + dt.timedelta(days=days),
        address=(request.client_addr or "")[:64], user_agent=(request.user_agent or "")[:300]))
    response.set_cookie(DEVICE_COOKIE, token, max_age=days * 86400, path="/", httponly=True, samesite="Lax",
                        secure=portal_settings(request.registry).secure_cookies)
    return True


def device_remembered(request: Any, user: User) -> bool:
    token = request.cookies.get(DEVICE_COOKIE)
    if not token or portal_settings(request.registry).remember_device_days <= 0:
        return False
    return request.dbsession.scalar(select(TrustedDevice.id).where(
        TrustedDevice.digest == digest(token), TrustedDevice.user_id == user.id,
        TrustedDevice.expires > utcnow())) is not None


def forget_devices(dbsession: Any, user: User) -> None:
    dbsession.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user.id))


# -- who must use one ------------------------------------------------------------------------

def _within(node_path: str, unit_paths: tuple[str, ...]) -> bool:
    """A role on `node_path` reaches one of the units (granted inside it, or above it)."""
    return any(node_path.startswith(p) or p.startswith(node_path) for p in unit_paths)


def required(request: Any, user: User) -> bool:
    """Whether `user` must pass a second factor to log in (see the module docstring)."""
    settings = portal_settings(request.registry)
    global_roles = {role for group in user.groups for role in group.role_list}
    if settings.require_second_factor and global_roles & PUBLISHING_ROLES:
        return True
    if not settings.require_second_factor and not settings.second_factor_units:
        return False
    principals = [user.principal] + [g.principal for g in user.groups]
    grants = request.dbsession.execute(
        select(LocalRole.role, Node.path).join(Node, Node.id == LocalRole.node_id)
        .where(LocalRole.principal.in_(principals), LocalRole.role.in_(EDITING_ROLES))).all()
    if settings.require_second_factor and any(role in PUBLISHING_ROLES for role, _path in grants):
        return True
    units = settings.second_factor_units
    if units == ("*",):
        return bool(grants)
    return any(_within(path, units) for _role, path in grants)
