"""Tokens and generated passwords are pasted into command lines: none may start with "-"."""

from __future__ import annotations

from app.auth import tokens
from app.auth.passwords import generate_password


def test_tokens_and_passwords_never_look_like_an_option() -> None:
    # One in 64 draws of token_urlsafe starts with "-"; 3,000 draws without the redraw would almost
    # surely (all but about 1e-21) include one.
    drawn = [tokens.new_token() for _ in range(1500)] + [generate_password() for _ in range(1500)]
    assert not [t for t in drawn if t.startswith("-")]
    assert {len(t) for t in drawn[:1500]} == {64} and {len(t) for t in drawn[1500:]} == {20}
    assert len(set(drawn)) == len(drawn)
