"""The second sign-in factor: time-based one-time codes (RFC 6238, pyotp) and recovery codes.

Required for the roles in KPIBOOK_MFA_ROLES (HR admins and executives by default); anyone else
may enrol on the account page. A person enrols by scanning the QR code (or typing the secret)
into an authenticator app and entering one code; they then get ten recovery codes, shown once
and stored as sha256 (they are random, like tokens). A code is accepted once: the time step of
the last accepted code is stored and only later steps count, set by one conditional UPDATE so
that two parallel requests cannot both use the same code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import update
from sqlalchemy.orm import Session

from server.models import User

RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by people


def required_roles(config: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(r.strip() for r in str(config.get("MFA_ROLES") or "").split(",")
                     if r.strip())


def required(user: User, config: Mapping[str, Any]) -> bool:
    return user.role in required_roles(config)


def enrolled(user: User) -> bool:
    return bool(user.totp_secret)


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits (RFC 4226's recommendation)


def provisioning_uri(secret: str, user: User, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.name, issuer_name=issuer)


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (no script, no external image)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=2))


def _normalise(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def _matching_step(secret: str, code: str, after_step: int, now: float) -> int | None:
    """The time step (current, or one either side for clock drift) whose code this is."""
    digits = _normalise(code)
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), digits):
            return step
    return None


def enrolment_step(secret: str, code: str, now: float | None = None) -> int | None:
    """For enrolment: the time step of `code` if it belongs to `secret` now, else None."""
    return _matching_step(secret, code, -1, time.time() if now is None else now)


def accept_code(db: Session, user: User, code: str, now: float | None = None) -> bool:
    """A one-time code of the user's authenticator, used at most once."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, int(user.totp_last_step or 0),
                          time.time() if now is None else now)
    if step is None:
        return False
    # Conditional: of two requests with the same code, only one moves the step forward.
    won = db.execute(update(User).where(User.id == user.id, User.totp_last_step < step)
                     .values(totp_last_step=step)).rowcount == 1
    db.refresh(user)
    return won


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode("utf-8")).hexdigest()


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """(codes to show once, their hashes to store)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))  # ~59 bits each
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes, [_hash(c) for c in codes]


def accept_recovery_code(user: User, code: str) -> bool:
    """A recovery code works once: it is removed from the stored list."""
    digest = _hash(code)
    stored = list(user.recovery_codes or [])
    for i, candidate in enumerate(stored):
        if hmac.compare_digest(candidate, digest):
            del stored[i]
            user.recovery_codes = stored
            return True
    return False


def enrol(user: User, secret: str, step: int) -> list[str]:
    """Store a secret confirmed by the code of time `step` (replacing an older secret) and
    return fresh recovery codes."""
    user.totp_secret = secret
    user.totp_last_step = step  # the confirming code is used up
    codes, hashes = new_recovery_codes()
    user.recovery_codes = hashes
    return codes
