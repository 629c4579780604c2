"""The tampering helper the tests share: whatever it is given, it changes it."""

import string

import pytest

from tests.conftest import tamper

EVERY_TOKEN_CHARACTER = string.ascii_letters + string.digits + "-_:=+/"


@pytest.mark.parametrize("last", EVERY_TOKEN_CHARACTER)
def test_tamper_changes_a_token_whatever_it_ends_with(last):
    token = "eyJzIjoxfQ:1vQ:abcdefgh" + last
    assert tamper(token) != token
    assert tamper(token)[:-1] == token[:-1]


def test_tamper_keeps_hex_hex():
    for digit in "0123456789abcdef":
        changed = tamper("00" * 31 + "0" + digit)
        assert changed != "00" * 31 + "0" + digit
        bytes.fromhex(changed)


def test_tamper_changes_the_character_asked_for():
    assert tamper("abcabc", at=0)[1:] == "bcabc" and tamper("abcabc", at=0)[0] != "a"
