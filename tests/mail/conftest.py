"""Fixtures for the mail tests: reports (the sample org and synthetic ones built from the model), a throw-away CA,
real SMTP servers on loopback (aiosmtpd) and a scripted raw server for what aiosmtpd will not do (hang, hang up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.mail.settings import MailSettings, SmtpSecurity
from eems_check.model import (
    BuildInfo,
    BuildSource,
    Finding,
    Inventory,
    OrgInfo,
    Remediation,
    Report,
    RunInfo,
    ServerRecord,
    ServerReport,
    Severity,
    Verdict,
)
from eems_check.outputs import OutputPlan, write_reports
from eems_check.render import Format
from eems_check.ruleset import RuleSet

from ..conftest import GENERATED, TODAY

MAIL_FIXTURES = Path(__file__).parent / "fixtures"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"
USER = "svc-eems@contoso.com"
PASSWORD = "Corr3ct-H0rse:Battery"
OVERVIEW = (("EEMS-OCS-2023", "EEMS Mar 2023"), ("EEMS-NEW-2026", "EEMS Jun 2026"), ("PRODUCT-SUPPORT", "Support"))
CATEGORIES = {"EEMS-OCS-2023": "EEMS", "EEMS-NEW-2026": "EEMS", "PRODUCT-SUPPORT": "Support"}


# ----------------------------------------------------------------------------------------------- reports


@pytest.fixture(scope="session")
def sample_report(ruleset: RuleSet) -> Report:
    """The bundled 12-server sample organisation, evaluated on the suite's fixed day."""
    return evaluate(read_inventory(SAMPLE), ruleset, today=TODAY, generated_at=GENERATED)


@pytest.fixture
def written(sample_report: Report, tmp_path: Path) -> dict[Format, Path]:
    """The sample report written to disk as the CLI writes it (all three formats)."""
    plan = OutputPlan.build(html=None, json=None, csv=None, output_dir=tmp_path, org="Contoso", stamp=GENERATED)
    return write_reports(sample_report, plan)


def _verdict(spec: str) -> tuple[Verdict, Severity]:
    """`pass`, `n/a`, `fail/error`, `unknown/warning`: a verdict and, after the slash, a severity."""
    word, _, sev = ("n/a", "", "") if spec == "n/a" else spec.partition("/")
    verdict = Verdict(word)
    if verdict is Verdict.PASS or verdict is Verdict.NOT_APPLICABLE:
        return verdict, Severity.OK
    return verdict, Severity(sev or "error")


def make_server(
    name: str,
    rules: dict[str, str],
    *,
    site: str = "Site-1",
    extra: tuple[str, ...] = (),
    categories: dict[str, str] | None = None,
) -> ServerReport:
    """A server report built from the model: one finding per overview rule (`rules` maps rule id to a verdict
    spec, missing ones pass) plus `extra` findings given as `RULE-ID=spec` (category "Other" unless
    `categories` names another)."""
    findings = []
    for rule_id, label in OVERVIEW:
        verdict, severity = _verdict(rules.get(rule_id, "pass"))
        findings.append(
            Finding(
                rule_id=rule_id,
                title=f"{label} check",
                category=CATEGORIES[rule_id],
                verdict=verdict,
                severity=severity,
                message=f"{label}: {verdict.value}",
                remediation=Remediation("Install the newest SU.", "https://learn.microsoft.com/exchange/eems")
                if verdict is Verdict.FAIL
                else None,
                overview=label,
            )
        )
    for item in extra:
        rule_id, _, spec = item.partition("=")
        verdict, severity = _verdict(spec)
        category = (categories or {}).get(rule_id, "Other")
        findings.append(Finding(rule_id, f"{rule_id} check", category, verdict, severity, f"{rule_id}: {spec}"))
    record = ServerRecord(
        name=name,
        fqdn=f"{name.lower()}.corp.contoso.com",
        site=site,
        roles=("Mailbox",),
        exsetup_version="15.2.1544.39",
        build_source=BuildSource.EXSETUP,
    )
    build = BuildInfo(
        text="15.2.1544.39",
        source=BuildSource.EXSETUP,
        number="15.2.1544.39",
        name="Exchange 2019 CU14 Feb26SU",
        product="Exchange Server 2019",
        cu="CU14",
        update="Feb26SU",
        released="2026-02-10",
        age_days=290,
        precision="su",
        status="exact",
    )
    return ServerReport(server=record, build=build, findings=tuple(findings), eems_state="Enabled")


def make_report(servers: list[ServerReport], org: str = "Contoso") -> Report:
    run = RunInfo(
        tool_version="0.1.0",
        rules_version="2026.11.27",
        rules_as_of="2026-11-27",
        evaluated_on=TODAY,
        generated_at=GENERATED,
        overview_rules=OVERVIEW,
    )
    inventory = Inventory(org=OrgInfo(name=org, mitigations_enabled=True), servers=tuple(s.server for s in servers))
    return Report(run=run, inventory=inventory, servers=tuple(servers))


def big_report(n: int, *, name_length: int = 0) -> Report:
    """A synthetic organisation of `n` servers with a realistic mix: about half cannot receive mitigations."""
    patterns = [
        {"EEMS-OCS-2023": "fail/error", "EEMS-NEW-2026": "fail/error", "PRODUCT-SUPPORT": "fail/error"},
        {"EEMS-NEW-2026": "fail/error", "PRODUCT-SUPPORT": "fail/error"},
        {"EEMS-OCS-2023": "unknown/warning", "EEMS-NEW-2026": "fail/error"},
        {"PRODUCT-SUPPORT": "fail/warning"},
        {},
    ]
    servers = []
    for i in range(n):
        base = f"EXMBX-{i // 50:02d}-{i:04d}"
        name = base + ("X" * max(0, name_length - len(base)))
        servers.append(make_server(name, patterns[i % len(patterns)], site=f"Datacenter-{i // 50:02d}"))
    return make_report(servers, org="Fabrikam Worldwide")


# ----------------------------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Tls:
    """A throw-away CA, a server context whose certificate names 127.0.0.1 and localhost, and CA files: the one
    that issued it, and an unrelated one the server's certificate does not chain to."""

    server: ssl.SSLContext
    ca_file: Path
    other_ca_file: Path
    wrong_name: ssl.SSLContext  # a certificate from the trusted CA for another name only


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("smtp-ca")
    ca, other = trustme.CA(), trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    wrong = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.example.org").configure_cert(wrong)
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other-ca.pem"))
    return Tls(server, folder / "ca.pem", folder / "other-ca.pem", wrong)


# ----------------------------------------------------------------------------------------------- SMTP servers


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class Recorder:
    """The aiosmtpd handler: records what arrives; can refuse recipients or defer DATA."""

    refuse: dict[str, Any] = field(default_factory=dict)  # address -> reply (always) or [replies] (then accept)
    data_replies: list[str] = field(default_factory=list)  # replies to DATA before one is accepted
    messages: list[Received] = field(default_factory=list)
    auth: list[tuple[str, bool]] = field(default_factory=list)
    data_attempts: int = 0

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.refuse.get(address)
        if isinstance(reply, list):
            if reply:
                return str(reply.pop(0))
        elif reply:
            return str(reply)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                content,
                session.ssl is not None,
                bool(session.authenticated),
            )
        )
        return "250 2.0.0 Message accepted"

    def authenticator(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        self.auth.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    """A running loopback SMTP server and the settings a client needs for it."""

    port: int
    recorder: Recorder
    settings: MailSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ServerFactory = Callable[..., Server]


@pytest.fixture
def smtp_server(tls: Tls) -> Iterator[ServerFactory]:
    """Start SMTP servers on loopback: `smtp_server(mode="starttls"|"tls"|"none", auth=True, ...)`.

    starttls: STARTTLS required, AUTH (LOGIN and PLAIN) only after it; tls: implicit TLS; none: clear text, no
    TLS offered. The returned settings point at the server, trust the throw-away CA and carry the password."""
    controllers: list[Controller] = []

    def start(
        mode: str = "starttls",
        *,
        auth: bool = True,
        exclude: tuple[str, ...] = (),
        cert: ssl.SSLContext | None = None,
        recorder: Recorder | None = None,
        **overrides: Any,
    ) -> Server:
        rec = recorder or Recorder()
        port = free_port()
        context = cert or tls.server
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port, "server_hostname": "mail.test"}
        if mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif mode == "tls":
            kwargs.update(ssl_context=context, auth_require_tls=False)
        if auth:
            kwargs.update(authenticator=rec.authenticator, auth_required=True, auth_exclude_mechanism=list(exclude))
        else:
            kwargs.update(auth_exclude_mechanism=["LOGIN", "PLAIN"])  # no mechanism left: AUTH is not offered
        controller = Controller(rec, ready_timeout=5, **kwargs)
        controller.start()
        controllers.append(controller)
        settings = MailSettings(
            mail_to=("ops@contoso.com", "Exchange Admins <exadmins@contoso.com>"),
            mail_from="EEMS check <eems-check@contoso.com>",
            smtp_host="127.0.0.1",
            smtp_port=port,
            security=SmtpSecurity(mode),
            smtp_user=USER if auth else None,
            password=PASSWORD if auth else None,
            ca_bundle=tls.ca_file if mode != "none" else None,
            timeout=5.0,
            retry_delay=0.05,
        )
        return Server(port, rec, dataclasses.replace(settings, **overrides))

    yield start
    for controller in controllers:
        controller.stop()


class ScriptedServer:
    """A TCP server that plays a script on every connection: ("send", bytes), ("recv",), ("recv_data",),
    ("sleep", seconds), then hangs up. For what a real server will not do: hang, or drop the line mid-session."""

    def __init__(self, script: list[tuple[Any, ...]]) -> None:
        self.script = script
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = int(self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            # The reader holds the socket open too: both must close for the client to see the hang-up.
            with conn, conn.makefile("rb") as reader:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    self._play(conn, reader)

    def _play(self, conn: socket.socket, reader: Any) -> None:
        for step in self.script:
            if step[0] == "send":
                conn.sendall(step[1])
            elif step[0] == "recv":
                reader.readline()
            elif step[0] == "recv_data":
                while reader.readline() not in (b".\r\n", b""):
                    pass
            elif step[0] == "sleep":
                self.stop.wait(step[1])

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone leaves blocked
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def scripted() -> Iterator[Callable[[list[tuple[Any, ...]]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: list[tuple[Any, ...]]) -> ScriptedServer:
        server = ScriptedServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def settings_for(port: int, **overrides: Any) -> MailSettings:
    """Client settings for a scripted server on `port` (clear text unless overridden)."""
    base = MailSettings(
        mail_to=("ops@contoso.com",),
        mail_from="eems-check@contoso.com",
        smtp_host="127.0.0.1",
        smtp_port=port,
        security=SmtpSecurity.NONE,
        timeout=1.0,
        retry_delay=0.05,
    )
    return dataclasses.replace(base, **overrides)
