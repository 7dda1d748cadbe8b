"""Agent accounts: hashed passwords, expiring sessions, roles."""

import sqlite3

import pytest

from voicebot.handoff.auth import Accounts, AuthError, check_password, hash_password
from voicebot.handoff.routing import Agent


class Clock:
    t = 1000.0

    def __call__(self):
        return self.t


def test_password_hash_is_salted_scrypt():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert check_password("correct horse", a) and not check_password("wrong horse", a)
    assert not check_password("x", "garbage")


def test_sign_in_sessions_expire_and_roles(tmp_path):
    clock = Clock()
    acc = Accounts(tmp_path / "h.sqlite3", session_ttl_s=60, now=clock)
    acc.add(Agent("maria", "María", ("es", "en")), "s3cret-pass")
    acc.add(Agent("sam", "Sam", ("en",)), "boss-pass-1", role="supervisor")
    with pytest.raises(AuthError):
        acc.sign_in("maria", "wrong-pass")
    with pytest.raises(AuthError):
        acc.sign_in("nobody", "s3cret-pass")
    token, user = acc.sign_in("maria", "s3cret-pass")
    assert user.agent.languages == ("es", "en") and not user.supervisor
    assert acc.user_for(token).id == "maria"
    assert user.may_see("maria") and user.may_see(None) and not user.may_see("john")
    _, boss = acc.sign_in("sam", "boss-pass-1")
    assert boss.supervisor and boss.may_see("maria")
    clock.t += 61
    with pytest.raises(AuthError, match="expired"):
        acc.user_for(token)
    # nothing in the database is usable as-is: passwords and session tokens are hashed
    rows = sqlite3.connect(tmp_path / "h.sqlite3").execute("SELECT password FROM agents").fetchall()
    assert all("s3cret" not in r[0] for r in rows)
    assert sqlite3.connect(tmp_path / "h.sqlite3").execute("SELECT count(*) FROM sessions WHERE token_hash=?", (token,)).fetchone()[0] == 0


def test_short_password_refused(tmp_path):
    with pytest.raises(ValueError):
        Accounts(tmp_path / "h.sqlite3").add(Agent("a", "A", ("en",)), "short")
