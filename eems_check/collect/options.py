"""What a scan is asked to do: `ScanOptions`, checked on creation, and the connection targets derived from it.

What it must not do: read the environment, prompt, or connect (the CLI glue and the scanner do). The password is
kept out of `repr` and therefore out of logs and tracebacks that print the options.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError
from .collector import Bounds
from .remoting import AUTH_METHODS, SPN_SERVICES, Credentials, Target


class LabLike(Protocol):
    """What `ScanOptions.for_lab` reads of a running simulated organisation (eems_check.lab.LabOrg)."""

    discovery_fqdn: str
    https: bool
    exchange_port: int
    wsman_port: int
    http_port: int
    web_https: bool

    @property
    def credentials(self) -> tuple[str, str]: ...

    def address_map(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class ScanOptions:
    """Everything `scan()` needs. Ports left as None follow the scheme (80/443 Exchange, 5985/5986 WinRM)."""

    discovery_server: str | None = None
    servers: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    auth: str = "kerberos"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exchange_https: bool = False
    wsman_https: bool = False
    exchange_port: int | None = None
    wsman_port: int | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    parallel: int = 48  # measured best on a 2-core workstation (scan_bench: 32 and 64 were both slower)
    connect_timeout: float = 10.0
    operation_timeout: int = 20
    server_timeout: float = 300.0
    discovery_timeout: float = 900.0  # listing a large organisation takes many Receives; its own budget
    probe_ocs: bool = False
    run_get_mitigations: bool = False
    bounds: Bounds = field(default_factory=Bounds)
    address_map: Mapping[str, str] = field(default_factory=dict)
    http_check: bool = False
    http_check_port: int = 443
    http_check_timeout: float = 5.0
    http_check_manifest: bool = True
    http_check_tls: bool = True  # plain HTTP only for a lab without TLS; no flag sets it
    spn_service: str | None = None  # Kerberos SPN service class (host, HTTP, WSMAN); None = pypsrp's default
    spn_hostname: str | None = None  # SPN host for the Exchange endpoint (load-balanced name with an ASA)
    capture: Path | None = None  # write what the servers answered into this folder (--capture)
    capture_scrub_names: bool = False  # ... with the organisation's names replaced (--capture-scrub-names)

    def __post_init__(self) -> None:
        self._check_spn()
        if self.auth not in AUTH_METHODS:
            raise InputError(f"--auth must be one of {', '.join(AUTH_METHODS)}, not {self.auth!r}")
        if self.auth == "basic" and not (self.exchange_https and self.wsman_https):
            raise InputError("Basic authentication sends the password in clear over HTTP: use it only with --https")
        if self.auth in ("basic", "credssp", "ntlm") and not self.username:
            raise InputError(f"--auth {self.auth} needs --username")
        if self.auth == "credssp" and importlib.util.find_spec("requests_credssp") is None:
            raise InputError("--auth credssp needs the requests-credssp package: pip install 'pypsrp[credssp]'")
        if not self.discovery_server and not self.servers:
            raise InputError("name a server to ask for the organisation: --discovery-server or --server")
        if self.parallel < 1:
            raise InputError("--parallel must be at least 1")
        timeouts = (self.connect_timeout, self.operation_timeout, self.server_timeout, self.discovery_timeout)
        if min(*timeouts, self.http_check_timeout) <= 0:
            raise InputError("timeouts must be positive")
        if min(self.bounds.max_events, self.bounds.event_days, self.bounds.max_log_lines) < 0:
            raise InputError("--max-events, --event-days and --max-log-lines cannot be negative")
        for port in (self.exchange_port, self.wsman_port, self.http_check_port):
            if port is not None and not 0 < port < 65536:
                raise InputError(f"not a TCP port: {port}")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():  # a FIFO would hang the TLS set-up
            raise InputError(f"--ca-bundle {self.ca_bundle}: not a regular file (a PEM file of CA certificates)")
        object.__setattr__(self, "address_map", {k.lower(): v for k, v in self.address_map.items()})

    def _check_spn(self) -> None:
        if (self.spn_service or self.spn_hostname) and self.auth not in ("kerberos", "negotiate"):
            raise InputError("--spn-service and --spn-hostname apply to --auth kerberos or negotiate only")
        if self.spn_service is not None and self.spn_service not in SPN_SERVICES:
            raise InputError(f"--spn-service must be one of {', '.join(SPN_SERVICES)}, not {self.spn_service!r}")
        if self.spn_hostname is not None:
            name = self.spn_hostname.strip()
            try:
                ipaddress.ip_address(name)
            except ValueError:
                pass
            else:
                raise InputError(f"--spn-hostname needs a DNS name, not the IP address {name} (SPNs name hosts)")
            if not name or "/" in name or "@" in name or " " in name:
                raise InputError(f"--spn-hostname takes a host name such as mail.contoso.com, not {name!r}")

    @classmethod
    def for_lab(cls, lab: LabLike, **overrides: Any) -> ScanOptions:
        """Options to scan a simulated organisation: NTLM as its account, its ports and addresses, short timeouts."""
        user, password = lab.credentials
        values: dict[str, Any] = {
            "discovery_server": lab.discovery_fqdn,
            "auth": "ntlm",
            "username": user,
            "password": password,
            "exchange_https": lab.https,
            "wsman_https": lab.https,
            "exchange_port": lab.exchange_port,
            "wsman_port": lab.wsman_port,
            "address_map": lab.address_map(),
            "connect_timeout": 2.0,
            "operation_timeout": 5,
            "server_timeout": 20.0,
            "discovery_timeout": 60.0,
            "http_check_port": lab.http_port,
            "http_check_tls": lab.web_https,
            "http_check_timeout": 2.0,
        }
        values.update(overrides)
        return cls(**values)

    @property
    def discovery(self) -> str:
        return self.discovery_server or self.servers[0]

    def credentials(self, *, delegate: bool = False) -> Credentials:
        """Credentials for one endpoint kind; `delegate` asks Kerberos for a forwardable ticket (double hop)."""
        if not self.verify_tls:
            validation: bool | str = False
        else:
            validation = self.ca_bundle or True
        return Credentials(
            auth=self.auth,
            username=self.username,
            password=self.password,
            cert_validation=validation,
            connect_timeout=self.connect_timeout,
            operation_timeout=self.operation_timeout,
            delegate=delegate and self.auth in ("kerberos", "negotiate"),
            spn_service=self.spn_service,
            spn_hostname=self.spn_hostname,  # used by the Exchange session only
        )

    def exchange_target(self, fqdn: str) -> Target:
        port = self.exchange_port or (443 if self.exchange_https else 80)
        return Target(fqdn, self.address_map.get(fqdn.lower(), fqdn), port, self.exchange_https)

    def wsman_target(self, fqdn: str) -> Target:
        port = self.wsman_port or (5986 if self.wsman_https else 5985)
        return Target(fqdn, self.address_map.get(fqdn.lower(), fqdn), port, self.wsman_https)
