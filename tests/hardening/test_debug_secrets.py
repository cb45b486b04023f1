"""`--debug` output is pasted into tickets: it must hold no authentication token, hash or password.

pyspnego logs every token it exchanges at DEBUG; the NTLM CHALLENGE and AUTHENTICATE pair alone is a NetNTLMv2
hash. Kerberos runs in tests/kerberos/test_debug_tokens.py (it needs the test KDC).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from eems_check.debuglog import TokenRedactor
from eems_check.lab import LabOrg, load_org

from .secrets import debug_scan, find_tokens

BASIC = Path(__file__).parents[1] / "lab" / "fixtures" / "basic.yaml"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(BASIC), base_address="127.0.41.1") as running:
        yield running


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_a_debug_scan_logs_no_token_hash_or_password(lab: LabOrg, tmp_path: Path, auth: str) -> None:
    user, password = lab.credentials
    result = debug_scan(lab, tmp_path, auth=auth, username=user, password=password)
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((tmp_path / "inv.json").read_text(encoding="utf-8"))
    assert {s["collection"]["status"] for s in saved["servers"] if not s["is_edge"]} == {"ok"}
    assert "step output: <token of" in output  # the handshake was logged, with its tokens held back
    assert find_tokens(output, password) == []


def test_a_mistyped_password_leaves_no_hash_either(lab: LabOrg, tmp_path: Path) -> None:
    user, _ = lab.credentials
    typo = "Lab-Passw0rd?"
    result = debug_scan(lab, tmp_path, auth="ntlm", username=user, password=typo)
    output = result.stdout + result.stderr
    assert "step output: <token of" in output
    assert find_tokens(output, typo) == []


# A CredSSP acceptor is not part of the lab: its records are checked as pyspnego words them.
RECORDS = [
    ("spnego._credssp", "CredSSP TSRequest output: %s", ("MIIBujCCAbagAwIBBqGCAa0wggGpMIIBpaCCAaEEggGdTlRMTVNTUAAD",)),
    (
        "spnego._credssp",
        "CredSSP step input: %s",
        ("MDegAwIBBqEwMC4wLKAqBChOVExNU1NQAAEAAAA3gojiAAAAAAAAAAA=",),
    ),
    ("spnego._gss", "GSSAPI step output: %s", ("YIICoAYJKoZIhvcSAQICAQBuggKPMIICi6ADAgEFoQMCAQ6iBwMFACAAAACjggF",)),
    ("spnego._ntlm", "NTLM step input: %s", ("TlRMTVNTUAACAAAABAAEADgAAAA1gorizhakwkZea3IAAAAAAAAAADoAOgA8AAAA",)),
    ("spnego._negotiate", "SPNEGO step output: %s", ("oYIBdTCCAXGgAwoBAaEMBgorBgEEAYI3AgIKooIBWgSCAVZOVExNU1NQ",)),
    ("krb5", "session key %s", ("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 10 20",)),
]


@pytest.mark.parametrize(("logger", "msg", "args"), RECORDS, ids=[r[1].split(":")[0] for r in RECORDS])
def test_token_records_of_the_authentication_libraries_are_redacted(
    logger: str, msg: str, args: tuple[str, ...]
) -> None:
    record = logging.LogRecord(logger, logging.DEBUG, __file__, 1, msg, args, None)
    assert TokenRedactor().filter(record)
    shown = record.getMessage()
    assert find_tokens(shown, "-unused-") == [] and "not shown" in shown, shown


def test_other_libraries_and_plain_diagnostics_are_left_alone() -> None:
    plain = logging.LogRecord(
        "spnego._negotiate",
        logging.DEBUG,
        __file__,
        1,
        "Failed to create context: %s",
        ("No Kerberos credentials available",),
        None,
    )
    ours = logging.LogRecord("eems_check.collect", logging.DEBUG, __file__, 1, "object %s", ("A" * 40,), None)
    for record in (plain, ours):
        before = record.getMessage()
        assert TokenRedactor().filter(record)
        assert record.getMessage() == before
