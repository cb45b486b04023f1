"""`--debug` over Kerberos (password and ticket cache) logs no GSSAPI/SPNEGO token and no password."""

from __future__ import annotations

import json
from pathlib import Path

from eems_check.lab import LabOrg

from ..hardening.secrets import debug_scan, find_tokens
from .conftest import PASSWORD, principal
from .kdc import MiniKdc


def _scanned(out: Path) -> set[str]:
    saved = json.loads((out / "inv.json").read_text(encoding="utf-8"))
    return {s["collection"]["status"] for s in saved["servers"]}


def test_a_kerberos_debug_scan_with_a_password_logs_no_token(
    kerberos_lab: LabOrg, kdc: MiniKdc, tmp_path: Path
) -> None:
    result = debug_scan(kerberos_lab, tmp_path, auth="kerberos", username=principal(kdc), password=PASSWORD)
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in _scanned(tmp_path)
    assert "GSSAPI step output: <token of" in output or "SPNEGO step output: <token of" in output
    assert find_tokens(output, PASSWORD) == []


def test_a_negotiate_debug_scan_from_the_ticket_cache_logs_no_token(
    kerberos_lab: LabOrg, kdc: MiniKdc, ccache: Path, tmp_path: Path
) -> None:
    kdc.kinit(principal(kdc), PASSWORD, ccache)
    result = debug_scan(
        kerberos_lab, tmp_path, auth="negotiate", username=None, password=None, env={"KRB5CCNAME": f"FILE:{ccache}"}
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in _scanned(tmp_path)
    assert "step output: <token of" in output
    assert find_tokens(output, PASSWORD) == []
