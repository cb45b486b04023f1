"""A throw-away MIT Kerberos KDC on loopback for the Kerberos tests.

What it does: in one private directory it writes `krb5.conf` (realm, KDC on 127.0.0.1:<free port>, TCP only, no
DNS, no reverse lookups, host-to-realm mapping for the lab's DNS domain) and `kdc.conf`, creates the database with
`kdb5_util`, adds principals with one `kadmin.local` run, exports service keys to a keytab, starts `krb5kdc -n`
(foreground) and stops it. `kinit` (password on stdin) and `klist` are wrapped for the ticket-cache tests.

What it must not do: touch /etc/krb5.conf, /etc/hosts, the user's ticket cache or any address off loopback; every
command gets an explicit environment (KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME) pointing into the directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"


def find_tools() -> dict[str, str] | str:
    """Paths of the MIT Kerberos programs, or why they cannot be used (for a skip reason)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    found = {name: shutil.which(name, path=search) for name in TOOLS}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        return (
            f"MIT Kerberos programs missing ({', '.join(missing)}): "
            "apt-get install krb5-kdc krb5-admin-server krb5-user (CI installs them)"
        )
    return {name: str(path) for name, path in found.items()}


def _free_port() -> int:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tcp, udp:
        tcp.bind(("127.0.0.1", 0))
        port = int(tcp.getsockname()[1])
        udp.bind(("127.0.0.1", port))  # the KDC also listens on UDP (kdc_listen cannot be empty)
        return port


class KdcError(RuntimeError):
    """A KDC set-up command failed; the message carries its output."""


@dataclass
class MiniKdc:
    """One realm with its KDC process. Use as a context manager or call `start()`/`stop()`."""

    directory: Path
    tools: dict[str, str]
    realm: str = "EEMS.TEST"
    dns_domains: Sequence[str] = ("contoso.lab",)
    master_password: str = "Kdc-Master-Pw-1"
    port: int = 0
    keytab: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keytab = self.directory / "lab.keytab"

    # -- paths and environment ------------------------------------------------------------------------------

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.directory / "kdc.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "kdc.log"

    def env(self, ccache: Path | str | None = None) -> dict[str, str]:
        """An environment for the MIT tools: this realm's config, and a ticket cache inside the directory."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env["KRB5_CONFIG"] = str(self.krb5_conf)
        env["KRB5_KDC_PROFILE"] = str(self.kdc_conf)
        env["KRB5CCNAME"] = f"FILE:{ccache or self.directory / 'unused.ccache'}"
        return env

    # -- lifecycle ------------------------------------------------------------------------------------------

    def __enter__(self) -> MiniKdc:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration, create the database and start the KDC (retrying on a port race)."""
        last: Exception | None = None
        for _attempt in range(3):
            self.port = _free_port()
            self._write_config()
            if not (self.directory / "principal").exists():
                self._run("kdb5_util", "create", "-s", "-P", self.master_password, "-r", self.realm,
                          "-d", str(self.directory / "principal"))
            try:
                self._start_kdc()
                return
            except KdcError as exc:
                last = exc
        raise KdcError(f"the KDC did not start: {last}")

    def stop(self) -> None:
        proc, self._process = self._process, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def _write_config(self) -> None:
        mapping = "".join(f"    .{d} = {self.realm}\n    {d} = {self.realm}\n" for d in self.dns_domains)
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self.realm}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    rdns = false\n"
            "    udp_preference_limit = 1\n"
            "    forwardable = true\n"
            "    ticket_lifetime = 1h\n"
            "[realms]\n"
            f"    {self.realm} = {{\n        kdc = 127.0.0.1:{self.port}\n    }}\n"
            "[domain_realm]\n" + mapping,
            encoding="utf-8",
        )
        d = self.directory
        self.kdc_conf.write_text(
            "[kdcdefaults]\n"
            f"    kdc_listen = 127.0.0.1:{self.port}\n"
            f"    kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        database_name = {d / 'principal'}\n"
            f"        key_stash_file = {d / 'stash'}\n"
            f"        acl_file = {d / 'kadm5.acl'}\n"
            "        max_life = 1h\n"
            "        max_renewable_life = 0\n"
            f"        supported_enctypes = {ENCTYPES}\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{self.log_file}\n",
            encoding="utf-8",
        )

    def _start_kdc(self) -> None:
        out = self.directory / "krb5kdc.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [self.tools["krb5kdc"], "-n", "-r", self.realm, "-d", str(self.directory / "principal")],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KdcError(f"krb5kdc exited with {proc.returncode}: {out.read_text(errors='replace').strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    self._process = proc
                    return
            except OSError:
                time.sleep(0.02)
        proc.kill()
        proc.wait(5)
        raise KdcError("krb5kdc did not listen within 10 s")

    # -- principals, keytabs, tickets --------------------------------------------------------------------------

    def kadmin(self, commands: Iterable[str]) -> str:
        """Run `kadmin.local` commands (one process for all of them); raises on any error line."""
        script = "".join(f"{c}\n" for c in commands)
        result = self._run("kadmin.local", "-r", self.realm, "-d", str(self.directory / "principal"), stdin=script)
        # errors read "add_principal: ... while creating ...", "kadmin.local: ... while ..."; the echoed prompt has
        # two spaces after the colon
        bad = [ln for ln in result.splitlines() if " while " in ln and not ln.startswith("kadmin.local:  ")]
        if bad:
            raise KdcError("; ".join(bad))
        return result

    def add_user(self, name: str, password: str) -> str:
        """A user principal that, like an AD account, requires pre-authentication; returns `name@REALM`."""
        principal = f"{name}@{self.realm}"
        self.kadmin([f"addprinc +requires_preauth -pw {password} {principal}"])
        return principal

    def add_services(self, principals: Iterable[str], *, export: Iterable[str] | None = None) -> None:
        """Create service principals (`HTTP/host`, ...) and export `export` (default: all) to `self.keytab`."""
        names = [p if "@" in p else f"{p}@{self.realm}" for p in principals]
        wanted = names if export is None else [p if "@" in p else f"{p}@{self.realm}" for p in export]
        commands = [f"addprinc -randkey {p}" for p in names]
        commands += [f"ktadd -k {self.keytab} -e \"{ENCTYPES}\" {p}" for p in wanted]
        self.kadmin(commands)

    def kinit(self, principal: str, password: str, ccache: Path, *, forwardable: bool = False) -> None:
        """Get a TGT into a FILE ticket cache the way an admin would: `kinit`, password typed on stdin."""
        args = ["kinit", *(["-f"] if forwardable else []), principal]
        self._run(*args, stdin=password + "\n", env=self.env(ccache))

    def klist(self, ccache: Path) -> list[str]:
        """The principals of the tickets in a cache (TGT first), as `klist` prints them."""
        text = self._run("klist", "-c", f"FILE:{ccache}", env=self.env(ccache))
        names: list[str] = []
        for line in text.splitlines():
            parts = line.split()
            # "11/27/26 14:02:04  11/27/26 15:02:04  HTTP/ex2019a.contoso.lab@EEMS.TEST"
            if len(parts) >= 5 and "/" in parts[0] and "@" in parts[4]:
                names.append(parts[4])
        return names

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _run(self, tool: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [self.tools[tool], *args],
            input=(stdin or "").encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env or self.env(),
            timeout=30,
            check=False,
        )
        text = result.stdout.decode(errors="replace")
        if result.returncode != 0:
            raise KdcError(f"{tool} {' '.join(args[:2])} failed ({result.returncode}): {text.strip()}")
        return text
