"""HTTP authentication and WinRM message sealing for the lab servers.

What it does:
* keeps the NTLM account file that pyspnego's acceptor reads (``NTLM_USER_FILE``): one 0600 file in a
  0700 private directory, shared by every running lab in the process, removed with the last one;
* runs the per-connection Negotiate/NTLM acceptor (SPNEGO-wrapped and raw NTLM tokens) and checks
  Basic credentials;
* when a lab is given a keytab (``KeytabStore``: ``KRB5_KTNAME``, process-wide like the NTLM file), also
  accepts Kerberos: raw or SPNEGO-wrapped tickets under ``Negotiate`` and raw ones under the ``Kerberos``
  scheme, through GSSAPI (python-gssapi + MIT krb5);
* seals and unseals SOAP bodies in the ``multipart/encrypted`` wire format WinRM uses
  (``application/HTTP-SPNEGO-session-encrypted``, or ``application/HTTP-Kerberos-session-encrypted`` on a
  connection authenticated with the ``Kerberos`` scheme).

What it must not do: hold any per-connection state globally (a context belongs to one TCP connection),
log passwords, or speak HTTP itself (the server module writes the responses).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import spnego
from spnego.exceptions import SpnegoError

from eems_check.lab.orgfile import Account

__all__ = [
    "KERBEROS_PROTOCOL",
    "SPNEGO_PROTOCOL",
    "AuthOutcome",
    "ConnectionAuth",
    "KeytabStore",
    "NtlmUserStore",
    "SealError",
    "check_basic",
    "seal",
    "sealed_protocol",
    "unseal",
]

SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
KERBEROS_PROTOCOL = "application/HTTP-Kerberos-session-encrypted"
_PROTOCOLS = (SPNEGO_PROTOCOL, KERBEROS_PROTOCOL)
_BOUNDARY = b"Encrypted Boundary"
_OCTET_HEADER = b"\tContent-Type: application/octet-stream\r\n"


class SealError(ValueError):
    """A sealed body could not be parsed or decrypted."""


# ---------------------------------------------------------------------------------------------------------
# NTLM account file for pyspnego's acceptor
# ---------------------------------------------------------------------------------------------------------


class NtlmUserStore:
    """Process-wide NTLM_USER_FILE shared by all running labs (pyspnego reads only that env var).

    ``register`` returns a handle; ``unregister(handle)`` drops those accounts. The file lives in a
    private 0700 directory with mode 0600 and is rewritten on every change; the previous value of
    NTLM_USER_FILE is restored when the last lab unregisters.
    """

    _lock = threading.Lock()
    _entries: dict[int, list[str]] = {}  # noqa: RUF012 - class-level registry on purpose
    _next = 1
    _dir: str | None = None
    _saved_env: str | None = None

    @classmethod
    def register(cls, accounts: Iterable[Account], dns_domain: str) -> int:
        lines: list[str] = []
        for acc in accounts:
            # pyspnego's documented Heimdal form, DOMAIN:USER:PASSWORD (the org file refuses ':' and line breaks in
            # names and passwords); the UPN form has an empty domain.
            if acc.domain:
                lines.append(f"{acc.domain}:{acc.user}:{acc.password}")
            lines.append(f":{acc.user}@{dns_domain}:{acc.password}")
        with cls._lock:
            handle = cls._next
            cls._next += 1
            if not cls._entries:
                cls._saved_env = os.environ.get("NTLM_USER_FILE")
                cls._dir = tempfile.mkdtemp(prefix="eems-lab-ntlm-")
                os.chmod(cls._dir, 0o700)
            cls._entries[handle] = lines
            cls._write()
        return handle

    @classmethod
    def unregister(cls, handle: int) -> None:
        with cls._lock:
            if cls._entries.pop(handle, None) is None:
                return
            if cls._entries:
                cls._write()
                return
            if cls._saved_env is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = cls._saved_env
            if cls._dir:
                shutil.rmtree(cls._dir, ignore_errors=True)
            cls._dir = None

    @classmethod
    def _write(cls) -> None:
        assert cls._dir is not None
        path = os.path.join(cls._dir, "ntlm_users")
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for lines in cls._entries.values():
                for line in lines:
                    fh.write(line + "\n")
        os.replace(tmp, path)
        os.environ["NTLM_USER_FILE"] = path


class KeytabStore:
    """Process-wide ``KRB5_KTNAME`` for the Kerberos acceptor (GSSAPI reads its default keytab only from there).

    Labs that run at the same time must share one keytab: ``register`` refuses a second, different one
    (``ValueError``). The previous value of KRB5_KTNAME is restored when the last lab unregisters.
    """

    _lock = threading.Lock()
    _users = 0
    _path: str | None = None
    _saved_env: str | None = None

    @classmethod
    def register(cls, keytab: str | os.PathLike[str]) -> None:
        path = os.path.abspath(os.fspath(keytab))
        if not os.path.isfile(path):
            raise ValueError(f"Kerberos keytab {path} does not exist")
        with cls._lock:
            if cls._users and cls._path != path:
                raise ValueError(f"another running lab accepts Kerberos with {cls._path}; labs share one keytab")
            if not cls._users:
                cls._saved_env = os.environ.get("KRB5_KTNAME")
                cls._path = path
                os.environ["KRB5_KTNAME"] = f"FILE:{path}"
            cls._users += 1

    @classmethod
    def unregister(cls) -> None:
        with cls._lock:
            if not cls._users:
                return
            cls._users -= 1
            if cls._users:
                return
            if cls._saved_env is None:
                os.environ.pop("KRB5_KTNAME", None)
            else:
                os.environ["KRB5_KTNAME"] = cls._saved_env
            cls._path = None


# ---------------------------------------------------------------------------------------------------------
# Per-connection authentication
# ---------------------------------------------------------------------------------------------------------


@dataclass
class AuthOutcome:
    """What the HTTP layer must do with a request after looking at its Authorization header.

    ``status``: ``ok`` (serve the request), ``continue`` (401 with ``token``), ``challenge`` (401 with the
    offered schemes), ``fail`` (401 and close the connection).
    """

    status: str
    scheme: str = ""  # Negotiate | NTLM | Kerberos | Basic
    token: bytes | None = None  # token for WWW-Authenticate (continue, or the final one on ok)
    user: str = ""


class ConnectionAuth:
    """Authentication state of one TCP connection (Negotiate/NTLM contexts are per connection)."""

    def __init__(
        self,
        accounts: tuple[Account, ...],
        dns_domain: str,
        *,
        basic_allowed: bool,
        kerberos: bool = False,
        negotiate: bool = True,
    ) -> None:
        self._accounts = accounts
        self._dns_domain = dns_domain
        self._basic_allowed = basic_allowed
        self._kerberos = kerberos  # also offer the plain ``Kerberos`` scheme (needs a registered keytab)
        self._negotiate = negotiate  # offer ``Negotiate`` (and accept raw ``NTLM``)
        self.context: spnego.ContextProxy | None = None
        self.sealing_context: spnego.ContextProxy | None = None
        self.scheme = ""  # the scheme of the completed handshake
        self.user = ""

    def challenges(self) -> list[str]:
        """The ``WWW-Authenticate`` values of an initial 401, one header each."""
        offered = ["Negotiate"] if self._negotiate else []
        if self._kerberos:
            offered.append("Kerberos")
        if self._basic_allowed:
            offered.append('Basic realm="WSMAN"')
        return offered

    @property
    def negotiated(self) -> bool:
        """True once a Negotiate/NTLM handshake completed on this connection."""
        return self.sealing_context is not None

    def evaluate(self, authorization: str | None) -> AuthOutcome:
        """Process one request's Authorization header (None when absent)."""
        if not authorization:
            if self.negotiated:
                return AuthOutcome("ok", self.scheme or "Negotiate", user=self.user)
            return AuthOutcome("challenge")
        scheme, _, data = authorization.strip().partition(" ")
        lscheme = scheme.lower()
        if (lscheme in ("negotiate", "ntlm") and self._negotiate) or (lscheme == "kerberos" and self._kerberos):
            return self._step(scheme, data.strip())
        if lscheme == "basic":
            if not self._basic_allowed:
                return AuthOutcome("challenge")
            user = check_basic(data.strip(), self._accounts, self._dns_domain)
            if user is None:
                return AuthOutcome("fail", "Basic")
            return AuthOutcome("ok", "Basic", user=user)
        return AuthOutcome("challenge")

    def _step(self, scheme: str, data: str) -> AuthOutcome:
        try:
            token = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return AuthOutcome("fail", scheme)
        if not token:
            return AuthOutcome("fail", scheme)
        if self.context is None or self.context.complete:
            # A new handshake on this connection replaces any earlier one. ``Negotiate`` takes SPNEGO, raw NTLM
            # and raw Kerberos tokens (pyspnego picks the mech); ``Kerberos`` takes raw Kerberos tokens only.
            self.sealing_context = None
            protocol = "kerberos" if scheme.lower() == "kerberos" else "negotiate"
            try:
                self.context = spnego.server(hostname="unspecified", service="host", protocol=protocol)
            except (SpnegoError, ImportError, ValueError):
                return AuthOutcome("fail", scheme)
        try:
            out = self.context.step(token)
        except Exception:  # any acceptor failure is a refused sign-in, not a dropped connection
            # a bad ticket, a token pyspnego cannot parse, or a service key missing from the keytab (GSSAPI then
            # leaves the context unstarted and pyspnego raises AttributeError reading its flags)
            self.context = None
            return AuthOutcome("fail", scheme)
        if not self.context.complete:
            return AuthOutcome("continue", scheme, token=out)
        self.sealing_context = self.context
        self.scheme = scheme
        try:
            self.user = self.context.client_principal or ""
        except (SpnegoError, NotImplementedError, AttributeError):
            self.user = ""
        return AuthOutcome("ok", scheme, token=out, user=self.user)


def check_basic(data: str, accounts: tuple[Account, ...], dns_domain: str) -> str | None:
    """Validate a Basic credential; returns the matched account name or None.

    Accepted user forms: ``DOMAIN\\user``, ``dns.domain\\user`` and ``user@dns.domain`` (case-insensitive).
    """
    try:
        raw = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    if not sep:
        return None
    given = user.lower()
    for acc in accounts:
        forms = {acc.username.lower()}
        if acc.domain:
            forms |= {
                f"{acc.domain}\\{acc.user}".lower(),
                f"{dns_domain}\\{acc.user}".lower(),
                f"{acc.user}@{dns_domain}".lower(),
            }
        if given in forms and hmac.compare_digest(password.encode(), acc.password.encode()):
            return acc.username
    return None


# ---------------------------------------------------------------------------------------------------------
# Message sealing (multipart/encrypted)
# ---------------------------------------------------------------------------------------------------------

_LENGTH_RE = re.compile(rb"Length=(\d+)")


def is_sealed(content_type: str) -> bool:
    """Whether a Content-Type announces a sealed WinRM body."""
    ct = content_type.lower()
    return ct.startswith("multipart/encrypted") or ct.startswith("multipart/x-multi-encrypted")


def sealed_protocol(content_type: str) -> str:
    """The session-encryption protocol a sealed request names (SPNEGO unless it names the Kerberos one)."""
    return KERBEROS_PROTOCOL if KERBEROS_PROTOCOL.lower() in content_type.lower() else SPNEGO_PROTOCOL


def unseal(context: spnego.ContextProxy, content_type: str, body: bytes) -> bytes:
    """Decrypt a ``multipart/encrypted`` request body sealed with ``context``."""
    if not content_type.lower().startswith("multipart/encrypted"):
        raise SealError(f"unsupported sealed content type {content_type!r}")
    if not any(p.lower() in content_type.lower() for p in _PROTOCOLS):
        raise SealError("sealed body uses neither the SPNEGO nor the Kerberos session-encrypted protocol")
    first = re.match(rb"--\s*" + re.escape(_BOUNDARY) + rb"\r\n", body)
    if not first:
        raise SealError("sealed body does not start with the boundary")
    rest = body[first.end() :]
    second = re.search(rb"--\s*" + re.escape(_BOUNDARY) + rb"\r\n", rest)
    if not second:
        raise SealError("sealed body has no second part")
    headers = rest[: second.start()]
    m = _LENGTH_RE.search(headers)
    if not m:
        raise SealError("sealed body has no OriginalContent Length")
    expected = int(m.group(1))
    payload = rest[second.end() :]
    if payload.startswith(_OCTET_HEADER):
        payload = payload[len(_OCTET_HEADER) :]
    end = re.search(rb"--\s*" + re.escape(_BOUNDARY) + rb"--\r\n$", payload)
    if end:
        payload = payload[: end.start()]
    if len(payload) < 4:
        raise SealError("sealed body is truncated")
    sig_len = struct.unpack("<i", payload[:4])[0]
    if sig_len < 0 or 4 + sig_len > len(payload):
        raise SealError("sealed body has a bad signature length")
    header, data = payload[4 : 4 + sig_len], payload[4 + sig_len :]
    try:
        plain = context.unwrap_winrm(header, data)
    except SpnegoError as exc:
        raise SealError(f"cannot unseal: {exc}") from None
    if len(plain) != expected:
        raise SealError(f"unsealed length {len(plain)} != announced {expected}")
    return plain


def seal(context: spnego.ContextProxy, plaintext: bytes, protocol: str = SPNEGO_PROTOCOL) -> tuple[str, bytes]:
    """Encrypt a reply body with the protocol the request used; returns (Content-Type, body)."""
    if protocol not in _PROTOCOLS:
        raise SealError(f"unsupported session-encryption protocol {protocol!r}")
    result = context.wrap_winrm(plaintext)
    length = len(plaintext) + result.padding_length
    parts = [
        b"--" + _BOUNDARY + b"\r\n",
        b"\tContent-Type: " + protocol.encode() + b"\r\n",
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(length).encode() + b"\r\n",
        b"--" + _BOUNDARY + b"\r\n",
        _OCTET_HEADER,
        struct.pack("<i", len(result.header)),
        result.header,
        result.data,
        b"--" + _BOUNDARY + b"--\r\n",
    ]
    content_type = f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'
    return content_type, b"".join(parts)
