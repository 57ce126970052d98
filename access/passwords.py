"""Password hashing with argon2id (argon2-cffi), rehashed when the parameters change.

The parameters are argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
When they are raised, :func:`needs_rehash` turns true for old hashes and the next successful
sign-in stores a new one.
"""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from carepulse.errors import CarePulseError

MIN_PASSWORD_LENGTH = 12

#: The hasher in use; tests swap in a cheaper one to stay fast.
HASHER = PasswordHasher(type=Type.ID)

_dummy_hash: tuple[PasswordHasher, str] | None = None


def hash_password(password: str) -> str:
    """An argon2id PHC string for ``password`` (salted; never the same twice)."""
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; False (not an exception) for a wrong or malformed hash."""
    if not password_hash:
        verify_dummy(password)
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters (or another argon2 variant)."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def verify_dummy(password: str) -> None:
    """Spend the time of one verification, so an unknown user costs the same as a known one."""
    global _dummy_hash
    if _dummy_hash is None or _dummy_hash[0] is not HASHER:
        _dummy_hash = (HASHER, HASHER.hash(secrets.token_urlsafe(16)))
    try:
        HASHER.verify(_dummy_hash[1], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


#: Runs a password may not be a piece of (either direction): alphabet, digits, keyboard rows and columns.
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7",
    "!@#$%^&*()_+",
)
MIN_DISTINCT_CHARACTERS = 5


def _repeated(text: str) -> bool:
    """One short unit over and over ("aaaaaaaaaaaa", "abcabcabcabc"), or too few distinct characters."""
    if len(set(text)) < MIN_DISTINCT_CHARACTERS:
        return True
    return any(
        len(text) % n == 0 and text == text[:n] * (len(text) // n) for n in range(1, len(text) // 2 + 1)
    )


def _sequential(text: str) -> bool:
    """A run along the alphabet, the digits or a keyboard row, forwards or backwards."""
    lowered = text.lower()
    return any(lowered in seq * 2 or lowered in (seq * 2)[::-1] for seq in _SEQUENCES)


def check_password_strength(password: str) -> str:
    """Return ``password`` if acceptable, else raise a user error saying why (never echoing it).

    NIST SP 800-63B: at least 12 characters, no composition rules, and refuse what is blank,
    repetitive, sequential or on the list of common and breached passwords."""
    from carepulse.access.password_blocklist import common_passwords

    if not password.strip():
        raise CarePulseError("password refused: it is blank (only spaces)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CarePulseError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if _repeated(password):
        raise CarePulseError(
            "password refused: it repeats a few characters; use a passphrase of unrelated words"
        )
    if _sequential(password):
        raise CarePulseError("password refused: it is a run of letters, digits or keyboard keys")
    if password.strip().lower() in common_passwords():
        raise CarePulseError("password refused: it is on the list of common or breached passwords")
    return password


def generate_password(length: int = 16) -> str:
    """A random password without look-alike characters (for demo accounts and resets)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "Il1O0o")
    return "".join(secrets.choice(alphabet) for _ in range(length))
