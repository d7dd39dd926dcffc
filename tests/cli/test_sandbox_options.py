"""Tests of `leafdesk-sandbox` option errors: each prints argparse's usage line and exits 2."""

from __future__ import annotations

import pytest

from leafdesk.sandbox.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "-5"], "argument --users: must be 0 or more, not -5"),
        (["--partner", "TEST", "id", "user", "password", "share"],
         "--partner environment must be STAGE or PRODUCTION"),
        (["--share-expiry", "0"], "share_expiry_seconds must be above 0"),
    ],
)
def test_bad_option_prints_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_request:
        main(argv)
    err = capsys.readouterr().err
    assert exit_request.value.code == 2
    assert err.startswith("usage: leafdesk-sandbox")
    assert f"leafdesk-sandbox: error: {message}" in err
