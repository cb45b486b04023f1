"""What an authentication token looks like in text, and a `--debug` scan of a lab to look for them in."""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
import sys
from pathlib import Path

from eems_check.lab import LabOrg

_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")  # the shortest token, an NTLM NEGOTIATE, is 56
_HEX = re.compile(r"(?<![A-Za-z0-9+/])(?=[^ ]*[0-9])(?:[0-9A-Fa-f]{2}[ :]?){16,}(?![A-Za-z0-9+/])")
# first byte of a token: GSS-API initial context token (0x60), SPNEGO NegTokenInit/Resp (0xa0/0xa1),
# Kerberos AP-REQ/AP-REP (0x6e/0x6f), a DER SEQUENCE such as a CredSSP TSRequest (0x30)
_TOKEN_TAGS = {0x60, 0xA0, 0xA1, 0x6E, 0x6F, 0x30}


def find_tokens(text: str, password: str) -> list[str]:
    """Every piece of `text` that is an authentication token, a hash or the password (shortened for a message)."""
    found = [m.group(0)[:40] for m in _HEX.finditer(text)]
    if password in text:
        found.append("the password")
    if "TlRMTVNTUA" in text or "NTLMSSP" in text:
        found.append("an NTLMSSP message")
    for match in _BASE64.finditer(text):
        run = match.group(0)
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4))
        except (binascii.Error, ValueError):
            continue
        if b"NTLMSSP" in raw or (raw[:1] and raw[0] in _TOKEN_TAGS):
            found.append(run[:40])
    return found


def scan_argv(lab: LabOrg, *extra: str, auth: str = "ntlm", username: str | None = "lab") -> list[str]:
    """The command line of `eems-check scan` against `lab` (short timeouts, its names resolved to its addresses).
    `username="lab"` signs in as the lab's account; None leaves it out, so the ticket cache signs in."""
    user = lab.credentials[0] if username == "lab" else username
    argv = [sys.executable, "-m", "eems_check", "scan", "--auth", auth, *(["--username", user] if user else [])]
    argv += ["--discovery-server", lab.discovery_fqdn, "--exchange-port", str(lab.exchange_port)]
    argv += ["--wsman-port", str(lab.wsman_port), "--connect-timeout", "2", "--operation-timeout", "5", *extra]
    for fqdn, address in lab.address_map().items():
        argv += ["--resolve", f"{fqdn}={address}"]
    return argv


def debug_scan(
    lab: LabOrg, out: Path, *, auth: str, username: str | None, password: str | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`eems-check scan --debug` of `lab` in a child process (its own logging set-up), inventory into `out`.
    No `username`: the ticket cache signs in."""
    extra = ["--debug", "--server-timeout", "20", "--fail-on", "never", "-o", str(out)]
    argv = scan_argv(lab, *extra, "--save-inventory", str(out / "inv.json"), auth=auth, username=username)
    child_env = {**os.environ, **(env or {}), "NO_PROXY": "127.0.0.0/8,localhost"}
    if password is not None:
        child_env["EEMS_CHECK_PASSWORD"] = password
    return subprocess.run(argv, capture_output=True, text=True, env=child_env, timeout=300)
