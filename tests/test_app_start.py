"""The standalone app's start: flags that cannot be read stop it before anything listens, and what it serves from
its first connection on."""

from __future__ import annotations

import socket

import pytest

from daz_depthmap import app


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("alice", "no ':'"),
        ("alice:", "empty password"),
        (":secret", "no user"),
        ("ann:secret,", "entry 2 of 2 is empty"),
        ("ann:secret,bob", "entry 2 of 2 has no ':'"),
        ("", "empty"),
        (" , ", "empty"),
    ],
)
def test_credentials_that_cannot_be_read_stop_the_start(value: str, words: str, capsys: pytest.CaptureFixture[str]):
    with socket.socket() as busy:  # were the value let through, the start would stop at the busy port instead
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert app.main(["--api-auth", value, "--port", str(busy.getsockname()[1])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: argument --api-auth: "), err
    assert words in err
    assert "secret" not in err  # a password is never echoed
