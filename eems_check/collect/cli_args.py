"""Command-line glue for scanning: the flags, their translation into `ScanOptions`, and a TTY progress line.

What it does: `add_scan_arguments` adds flags named the way an Exchange admin knows them; `options_from_args`
finds the password (environment variable, then the keyring if asked and installed, then a TTY prompt) and builds
`ScanOptions`; `ProgressPrinter` rewrites one stderr line with done/failed/total while the scan runs.

What it must not do: scan, or take a password from the command line: there is no --password flag, so it never
sits in argv, shell history or the process list; it never appears in a message either.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ..argv import RefusedSecretFlag
from ..errors import InputError
from .collector import Bounds
from .options import ScanOptions
from .remoting import AUTH_METHODS, DEFAULT_SPN_SERVICE, SPN_SERVICES

PASSWORD_ENV = "EEMS_CHECK_PASSWORD"


def _resolve_pair(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name.strip() or not address.strip():
        raise argparse.ArgumentTypeError(f"expected FQDN=ADDRESS, not {text!r}")
    return name.strip().lower(), address.strip()


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the scan flags to `parser`."""
    g = parser.add_argument_group("what to scan")
    g.add_argument(
        "--discovery-server",
        metavar="FQDN",
        help="Exchange server whose /PowerShell endpoint lists the organisation (default: first --server)",
    )
    g.add_argument(
        "--server", action="append", default=[], metavar="NAME", help="scan only this server (name or FQDN; repeatable)"
    )
    g.add_argument(
        "--site", action="append", default=[], metavar="SITE", help="scan only servers in this AD site (repeatable)"
    )
    g.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE",
        help="scan only servers with this role, e.g. Mailbox (repeatable)",
    )
    a = parser.add_argument_group("sign-in")
    a.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        default="kerberos",
        help="authentication (default kerberos; basic only with --https)",
    )
    a.add_argument("--username", metavar="USER", help="user@DOMAIN or DOMAIN\\user (default: current Kerberos ticket)")
    a.add_argument(
        "--password",
        action=RefusedSecretFlag,
        advice=f"set {PASSWORD_ENV}, use --password-env or type it at the prompt",
    )
    a.add_argument(
        "--spn-service",
        choices=SPN_SERVICES,
        help=f"Kerberos SPN service class to ask a ticket for (default {DEFAULT_SPN_SERVICE}, pypsrp's; "
        "HTTP for an Alternate Service Account)",
    )
    a.add_argument(
        "--spn-hostname",
        metavar="NAME",
        help="Kerberos SPN host for the Exchange /PowerShell endpoint when it differs from --discovery-server, "
        "e.g. a load-balanced namespace held by an Alternate Service Account (default: the server FQDN)",
    )
    a.add_argument(
        "--password-env",
        default=PASSWORD_ENV,
        metavar="VAR",
        help=f"read the password from this environment variable (default {PASSWORD_ENV})",
    )
    if importlib.util.find_spec("keyring") is not None:
        a.add_argument("--keyring", metavar="SERVICE", help="read the password from the OS keyring under SERVICE")
    c = parser.add_argument_group("connection")
    c.add_argument("--https", action="store_true", help="use HTTPS for both endpoints (443 and 5986)")
    c.add_argument("--exchange-port", type=int, metavar="PORT", help="Exchange /PowerShell port (80, or 443)")
    c.add_argument("--wsman-port", type=int, metavar="PORT", help="WinRM /wsman port (5985, or 5986)")
    c.add_argument("--ca-bundle", metavar="FILE", help="CA certificates (PEM) that sign the servers' certificates")
    c.add_argument("--no-verify-tls", action="store_true", help="do not check TLS certificates (unsafe)")
    c.add_argument(
        "--resolve",
        action="append",
        default=[],
        type=_resolve_pair,
        metavar="FQDN=IP",
        help="connect to IP for FQDN, keeping FQDN for Kerberos (repeatable)",
    )
    c.add_argument("--parallel", type=int, default=48, metavar="N", help="servers collected at once (default 48)")
    c.add_argument("--connect-timeout", type=float, default=10.0, metavar="S", help="TCP connect timeout (10)")
    c.add_argument("--operation-timeout", type=int, default=20, metavar="S", help="WS-Man operation timeout (20)")
    c.add_argument(
        "--server-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="wall-clock limit per server; a server past it is recorded as timeout (300)",
    )
    c.add_argument(
        "--discovery-timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="wall-clock limit for listing the organisation (Get-ExchangeServer, Get-OrganizationConfig) (900)",
    )
    w = parser.add_argument_group("what to collect")
    w.add_argument(
        "--probe-ocs",
        action="store_true",
        help="from each server, request the Office Config Service through its InternetWebProxy",
    )
    w.add_argument(
        "--get-mitigations",
        action="store_true",
        help="run Get-Mitigations.ps1 on each server (needs Kerberos delegation or CredSSP)",
    )
    w.add_argument(
        "--capture",
        type=Path,
        metavar="DIR",
        help="also write what the servers answered (Get-ExchangeServer, Get-OrganizationConfig as CLIXML, each "
        "collector answer) into DIR, for `eems-check evaluate DIR` and to send in as a test case",
    )
    w.add_argument(
        "--capture-scrub-names",
        action="store_true",
        help="in the capture, replace server, domain, site and organisation names with neutral ones",
    )
    w.add_argument("--max-events", type=int, default=50, metavar="N", help="EEMS events per server (50)")
    w.add_argument("--event-days", type=int, default=30, metavar="DAYS", help="how far back to read events (30)")
    w.add_argument("--max-log-lines", type=int, default=200, metavar="N", help="EEMS log lines per server (200)")
    h = parser.add_argument_group("build cross-check over HTTPS (opt-in, unauthenticated)")
    h.add_argument(
        "--http-check",
        action="store_true",
        help="also read the build each server publishes over HTTPS (X-OWA-Version of /owa/, the ECP export-tool "
        "manifest), by server FQDN, without credentials; used as the build when WinRM fails",
    )
    h.add_argument("--http-check-port", type=int, default=443, metavar="PORT", help="HTTPS port of OWA/ECP (443)")
    h.add_argument(
        "--http-check-timeout", type=float, default=5.0, metavar="S", help="timeout per HTTPS request (5)"
    )
    h.add_argument(
        "--http-check-no-manifest",
        action="store_true",
        help="do not request the ECP export-tool manifest (some IDS/WAF rules flag that path as reconnaissance)",
    )


def _password(args: argparse.Namespace, environ: Mapping[str, str], stdin: TextIO) -> str | None:
    variable = args.password_env or PASSWORD_ENV
    if environ.get(variable):
        return environ[variable]
    service = getattr(args, "keyring", None)
    if service:
        import keyring  # optional; the flag exists only when it is installed

        found: Any = keyring.get_password(service, args.username or "")
        if found:
            return str(found)
        raise InputError(f"the keyring has no password for {args.username!r} under {service!r}")
    if args.username:
        if not stdin.isatty():
            ticket = " (or leave out --username to use your Kerberos ticket)" if args.auth == "kerberos" else ""
            raise InputError(
                f"no password for {args.username}: set {variable} or run in a terminal to be asked{ticket}"
            )
        return getpass.getpass(f"Password for {args.username}: ")
    return None


def options_from_args(args: argparse.Namespace, environ: Mapping[str, str], stdin: TextIO | None = None) -> ScanOptions:
    """`ScanOptions` from parsed flags; the password comes from `environ`, the keyring or a prompt."""
    password = _password(args, environ, stdin or sys.stdin)
    return ScanOptions(
        discovery_server=args.discovery_server,
        servers=tuple(args.server),
        sites=tuple(args.site),
        roles=tuple(args.role),
        auth=args.auth,
        username=args.username,
        password=password,
        exchange_https=args.https,
        wsman_https=args.https,
        exchange_port=args.exchange_port,
        wsman_port=args.wsman_port,
        ca_bundle=args.ca_bundle,
        verify_tls=not args.no_verify_tls,
        parallel=args.parallel,
        connect_timeout=args.connect_timeout,
        operation_timeout=args.operation_timeout,
        server_timeout=args.server_timeout,
        discovery_timeout=args.discovery_timeout,
        probe_ocs=args.probe_ocs,
        run_get_mitigations=args.get_mitigations,
        bounds=Bounds(max_events=args.max_events, event_days=args.event_days, max_log_lines=args.max_log_lines),
        address_map=dict(args.resolve),
        http_check=args.http_check,
        http_check_port=args.http_check_port,
        http_check_timeout=args.http_check_timeout,
        http_check_manifest=not args.http_check_no_manifest,
        spn_service=args.spn_service,
        spn_hostname=args.spn_hostname,
        capture=args.capture,
        capture_scrub_names=args.capture_scrub_names,
    )


class ProgressPrinter:
    """A scan progress callback that rewrites one stderr line; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()

    def __call__(self, done: int, failed: int, total: int) -> None:
        if not self._live:
            return
        self._stream.write(f"\rscanned {done}/{total} servers, {failed} failed")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()
