"""Password hashing: argon2id, salted, verified, rehashed when the parameters change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from carepulse.access import passwords
from carepulse.errors import CarePulseError


def test_hash_is_argon2id_salted_and_verifies():
    first = passwords.hash_password("correct horse battery")
    second = passwords.hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert "correct horse" not in first
    assert passwords.verify_password(first, "correct horse battery")
    assert not passwords.verify_password(first, "correct horse batterY")


@pytest.mark.parametrize("bad_hash", [None, "", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$xx$yy"])
def test_malformed_or_missing_hash_never_verifies(bad_hash, fast_password_hashing):
    assert passwords.verify_password(bad_hash, "anything at all") is False


def test_needs_rehash_when_parameters_change(monkeypatch):
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    old_hash = weak.hash("a long passphrase")
    assert passwords.needs_rehash(old_hash)  # the default hasher uses stronger parameters
    assert not passwords.needs_rehash(passwords.hash_password("a long passphrase"))
    argon2i = PasswordHasher(type=Type.I).hash("a long passphrase")
    assert passwords.needs_rehash(argon2i)
    assert passwords.needs_rehash("garbage")


def test_short_passwords_are_refused():
    with pytest.raises(CarePulseError, match="at least 12"):
        passwords.check_password_strength("short")
    assert passwords.check_password_strength("twelve chars") == "twelve chars"


def test_generated_passwords_are_long_random_and_strong_enough():
    generated = {passwords.generate_password() for _ in range(50)}
    assert len(generated) == 50
    for pw in generated:
        assert len(pw) == 16
        passwords.check_password_strength(pw)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 12, "blank"),
        ("\t" * 14, "blank"),
        ("a" * 12, "repeats"),
        ("abcabcabcabc", "repeats"),
        ("abababababababab", "repeats"),
        ("abcdefghijkl", "run of"),
        ("LKJIHGFEDCBA", "run of"),
        ("123456789012", "run of"),
        ("qwertyuiopasdf", "run of"),
        ("1qaz2wsx3edc", "run of"),
        ("password1234", "common"),
        ("Password2024", "common"),
        ("iloveyou1234", "common"),
        ("footballfootball", "repeats"),
        ("hospital2019", "common"),
        ("carepulse2026", "common"),
    ],
)
def test_blank_repeated_sequential_and_common_passwords_are_refused(password, why):
    with pytest.raises(CarePulseError, match=why) as refused:
        passwords.check_password_strength(password)
    assert password.strip() == "" or password not in str(refused.value)  # never echoed


@pytest.mark.parametrize("password", ["correct horse battery", "Tram-lines at 7 dawn", "zebra quartz mellow"])
def test_passphrases_pass(password):
    assert passwords.check_password_strength(password) == password


def test_the_shipped_blocklist_is_the_documented_rule():
    from importlib.resources import files

    from carepulse.access import password_blocklist

    shipped = files("carepulse.access").joinpath(password_blocklist.FILE_NAME).read_text(encoding="utf-8")
    assert shipped == password_blocklist.build()
    assert len(password_blocklist.common_passwords()) > 5000
