"""Org file loading and validation: good files load, bad ones fail with one 'file:line: problem' line."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from eems_check.lab import LabOrgError, load_org, parse_org
from tests.lab.conftest import DEMO, FIXTURES

HEAD = """\
organization: {name: Contoso, domain: contoso.lab}
accounts:
  - {username: CONTOSO\\scanner, password: pw}
servers:
"""


@pytest.mark.parametrize("path", [*sorted(FIXTURES.glob("*.yaml")), DEMO], ids=lambda p: Path(p).name)
def test_shipped_org_files_load(path: Path) -> None:
    spec = load_org(path)
    assert spec.servers and spec.accounts


def test_demo_covers_the_verdict_matrix() -> None:
    spec = load_org(DEMO)
    builds = {".".join(map(str, s.build)) for s in spec.servers}
    assert {"15.2.1118.25", "15.1.2375.37", "15.2.2562.41", "15.2.2562.53"} <= builds
    assert len({s.site for s in spec.servers}) == 3
    assert sum(s.is_edge for s in spec.servers) == 1
    assert any(s.refused("wsman") and s.refused("exchange") for s in spec.servers)
    applied = {m for s in spec.servers for m in s.eems.applied}
    assert {"PING1", "M1.1", "M2.1.0"} <= applied
    assert any(s.eems.blocked for s in spec.servers)
    texts = [e.message for s in spec.servers for e in s.events if e.id == 1008]
    assert (
        "An unexpected exception occurred.\nDiagnostic information: Exception encountered while fetching "
        "mitigations." in texts
    )


def test_defaults_and_derived_values() -> None:
    spec = parse_org(HEAD + '  - {name: EX01, build: "15.2.1118.26", cu_build: "15.2.1118.7"}\n', "x.yaml")
    (srv,) = spec.servers
    assert srv.fqdn == "EX01.contoso.lab" and srv.roles == ("Mailbox",) and srv.edition == "Standard"
    assert srv.service is not None and srv.service.status == "Running"
    assert srv.ocs.status_code == 200 and srv.delegation is True and srv.exsetup == "exsetup"
    assert spec.mitigations_enabled is True and spec.domain_controller == "dc01.contoso.lab"
    assert spec.netbios_domain == "CONTOSO"


def test_a_upn_account_takes_the_netbios_domain_from_the_dns_domain() -> None:
    text = HEAD.replace("CONTOSO\\scanner", "scan@contoso.lab") + '  - {name: EX01, build: "15.2.1118.26"}\n'
    spec = parse_org(text, "x.yaml")
    assert (spec.accounts[0].domain, spec.accounts[0].user, spec.netbios_domain) == ("", "scan@contoso.lab", "CONTOSO")


def test_relative_and_absolute_event_times() -> None:
    spec = parse_org(
        HEAD
        + textwrap.dedent("""\
          - name: EX01
            build: "15.2.1118.26"
            events:
              - {id: 1008, time: -2d3h, message: a}
              - {id: 1008, time: "2026-11-20T08:00:00Z", message: b}
        """),
        "x.yaml",
    )
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
    first, second = spec.servers[0].events
    assert first.at(now) == now - dt.timedelta(days=2, hours=3)
    assert second.at(now) == dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)


def test_admin_display_version_can_replace_cu_build() -> None:
    spec = parse_org(
        HEAD + '  - {name: EX01, build: "15.2.1748.37", admin_display_version: '
        '"Version 15.2 (Build 1748.10)"}\n',
        "x.yaml",
    )
    assert spec.servers[0].cu_build == (15, 2, 1748, 10)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("organization: [\n", 2, "YAML syntax error"),
        (HEAD.replace("servers:\n", "servers: []\n"), 4, "at least one server"),
        (HEAD + "  - {name: EX01}\n", 5, "servers[0]: 'build' is required"),
        (HEAD + "  - {name: EX01, build: 15.2}\n", 5, "servers[0].build: must be string, not 15.2"),
        (HEAD + '  - {name: EX01, build: "15.2.x.1"}\n', 5, "not a build number"),
        (HEAD + '  - {name: EX01, build: "15.2.1118.26", cu_build: "15.2.986.5"}\n', 5, "does not belong"),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    rolez: [Mailbox]\n',
            7,
            "servers[0]: unknown field(s) ('rolez' was unexpected)",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    roles: [Mailbox, Edge]\n',
            7,
            "cannot be combined",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    edition: Gold\n',
            7,
            'servers[0].edition: must be one of Standard, StandardEvaluation, Enterprise, EnterpriseEvaluation, '
            'Coexistence, not "Gold"',
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    faults: [explode]\n',
            7,
            'servers[0].faults[0]: must be one of refuse, http_401, http_500, wsman_fault, delay, hang, garbage, '
            'oversized, http_refuse, endless_body, negative_chunk, trailing_bytes, fqdn_as, ad_error, not "explode"',
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    faults:\n      - {kind: delay}\n',
            8,
            "servers[0].faults[0]: 'ms' is required",
        ),
        (
            HEAD
            + '  - name: EX01\n    build: "15.2.1118.26"\n'
            + "    faults:\n      - {kind: hang, scope: forever}\n",
            8,
            'servers[0].faults[0].scope: must be one of all, collector, not "forever"',
        ),
        (
            HEAD
            + '  - name: EX01\n    build: "15.2.1118.26"\n    events:\n      - {id: 1008, time: yesterday, '
            "message: x}\n",
            8,
            "is not a time",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    service: {status: Sleeping}\n',
            7,
            'servers[0].service.status: must be one of Running, Stopped, Paused, StartPending, StopPending, '
            'ContinuePending, PausePending, not "Sleeping"',
        ),
        (
            HEAD + '  - {name: EX01, build: "15.2.1118.26"}\n  - {name: ex01, build: "15.2.1118.26"}\n',
            6,
            "defined twice",
        ),
        (HEAD + '  - {name: "<b>", build: "15.2.1118.26"}\n', 5, "is not a DNS name"),
        (HEAD.replace("CONTOSO\\scanner", "scanner"), 3, "must look like DOMAIN\\user"),
        (HEAD.replace("password: pw", "password: 'a:b'"), 3, "must not contain ':'"),
        (
            HEAD.replace("domain: contoso.lab}", "domain: contoso.lab, discovery_server: EX09}")
            + '  - {name: EX01, build: "15.2.1118.26"}\n',
            1,
            "discovery_server 'EX09'",
        ),
        (HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    build: "15.2.1118.25"\n', 7, "duplicate key"),
        (
            HEAD.replace("  - {username: CONTOSO\\scanner, password: pw}\n", "  []\n"),
            2,
            "accounts: must list at least one account",
        ),
        (HEAD.replace("password: pw", "password: ''"), 3, "accounts[0].password: must not contain ':'"),
        (
            HEAD
            + '  - name: EX01\n    build: "15.2.1118.26"\n    cu_build: "15.2.1118.7"\n'
            + '    admin_display_version: "Version 15.2 (Build 1118.7)"\n',
            8,
            "servers[0]: give cu_build or admin_display_version, not both",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    admin_display_version: "15.2.1118.7"\n',
            7,
            "servers[0].admin_display_version: \"15.2.1118.7\" must look like 'Version 15.2 (Build 1118.7)'",
        ),
        (HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    roles: []\n', 7, "servers[0].roles: must not be empty"),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    ocs: {reachable: false, status_code: 700}\n',
            7,
            "servers[0].ocs.status_code: 700 is not an HTTP status",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    ocs: {reachable: false, status_code: 99}\n',
            7,
            "servers[0].ocs.status_code: 99 is not an HTTP status",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    eems: {internet_web_proxy: "ftp://p"}\n',
            7,
            'servers[0].eems.internet_web_proxy: "ftp://p" must be an http(s) URI',
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    faults:\n      - {kind: delay, ms: -1}\n',
            8,
            "servers[0].faults[0].ms: must not be negative",
        ),
        (
            HEAD + '  - name: EX01\n    build: "15.2.1118.26"\n    faults:\n      - {kind: oversized, mb: 0}\n',
            8,
            "servers[0].faults[0].mb: must be > 0 and <= 256",
        ),
        (
            HEAD + '  - name: "EX01\\n"\n    build: "15.2.1118.26"\n',
            5,
            "servers[0].name: server name must be one non-empty line",
        ),
        (
            HEAD.replace("domain: contoso.lab}", "domain: contoso lab}"),
            1,
            'organization.domain: "contoso lab" is not a DNS name',
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_invalid_org_files_fail_with_file_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(LabOrgError) as info:
        parse_org(text, "bad.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"bad.yaml:{line}: "), message
    assert problem in message


def test_missing_file_is_a_lab_org_error(tmp_path: Path) -> None:
    with pytest.raises(LabOrgError, match=r"nope\.yaml:0: cannot read org file"):
        load_org(tmp_path / "nope.yaml")
