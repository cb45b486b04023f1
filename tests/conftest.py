"""Shared fixtures: the bundled rule set, a fixed evaluation day, and the fixtures folder."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from eems_check.lab import LabOrg
from eems_check.ruleset import RuleSet, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = dt.date(2026, 11, 27)
GENERATED = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


def missing_in_ci(reason: str) -> NoReturn:
    """Skip a test whose tool (a KDC, gssapi, chromium) this machine lacks; in CI (`CI` set, as `.ci/run` does,
    which installs every tool) the same absence is a failure, so a broken install cannot pass as skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set)", pytrace=False)
    pytest.skip(reason)


def lab_scan_argv(lab: LabOrg) -> list[str]:
    """`eems-check scan` options that point at a running simulated organisation, as an admin would type them for a
    real one (NTLM as the lab's account, whose password goes in $EEMS_CHECK_PASSWORD, never in argv)."""
    argv = ["--discovery-server", lab.discovery_fqdn, "--auth", "ntlm", "--username", lab.credentials[0],
            "--exchange-port", str(lab.exchange_port), "--wsman-port", str(lab.wsman_port),
            "--connect-timeout", "2", "--operation-timeout", "5", "--server-timeout", "20"]  # fmt: skip
    for fqdn, address in lab.address_map().items():
        argv += ["--resolve", f"{fqdn}={address}"]
    return argv


CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium, installed by .ci/run
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole run: Playwright's sync API allows one running instance per thread, so
    the report tests and the mail tests share it."""
    if not CHROMIUM.exists():
        missing_in_ci(f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
