"""WS-Management SOAP and the WinRS shell resource, on top of ``psrp.LabShell``.

What it does: parses request envelopes (Action, MessageID, ResourceURI, ShellId selector,
OperationTimeout, MaxEnvelopeSize), dispatches the actions pypsrp uses — transfer Create/Delete/Get and
shell Command/Send/Receive/Signal — to a per-endpoint shell registry, and builds replies whose
``a:RelatesTo`` echoes the request's MessageID. Failures are ``WSManFault`` objects that render the
``s:Fault`` + ``f:WSManFault Code=… Machine=…`` body; the HTTP layer sends them with status 500.

What it must not do: authenticate, seal, delay or count requests (``server``), or interpret PSRP
content (``psrp``).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from eems_check.lab import cmdlets, psrp
from eems_check.lab.orgfile import FaultSpec

__all__ = [
    "NS",
    "ShellRegistry",
    "WSManFault",
    "WSManRequest",
    "parse_request",
]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
SHELL_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
PS_RESOURCE_PREFIX = "http://schemas.microsoft.com/powershell/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
CMD_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
CMD_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"

SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
SIGNAL_STOP = (
    "powershell/signal/crtl_c",  # MS-PSRP and PowerShell itself (sic)
    "powershell/signal/ctrl_c",  # pypsrp 0.9.1
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c",
)

ERROR_OPERATION_TIMEDOUT = 0x80338029
ERROR_SHELL_NOT_FOUND = 0x8033805B
ERROR_RESOURCE_NOT_FOUND = 0x80338000
ERROR_ACTION_NOT_SUPPORTED = 0x80338117  # value unverified (reference §8.3)
ERROR_BAD_REQUEST = 0x8033801A  # ERROR_WSMAN_INVALID_XML (used for unparsable bodies)


class WSManFault(Exception):
    """A WS-Man fault; ``render(relates_to, machine)`` gives the SOAP body."""

    def __init__(self, code: int, message: str, *, subcode: str = "w:InternalError", value: str = "s:Receiver") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.value = value

    def render(self, relates_to: str | None, machine: str) -> bytes:
        relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
        body = (
            f"<s:Fault><s:Code><s:Value>{self.value}</s:Value><s:Subcode><s:Value>{self.subcode}</s:Value>"
            f"</s:Subcode></s:Code><s:Reason>"
            f'<s:Text xml:lang="en-US">{escape(self.message)}</s:Text></s:Reason>'
            f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{self.code}" Machine={quoteattr(machine)}>'
            f"<f:Message>{escape(self.message)} </f:Message></f:WSManFault></s:Detail></s:Fault>"
        )
        return _envelope(FAULT_ACTION, relates, body)


def timeout_fault() -> WSManFault:
    return WSManFault(
        ERROR_OPERATION_TIMEDOUT,
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        subcode="w:TimedOut",
    )


def shell_not_found(shell_id: str) -> WSManFault:
    return WSManFault(
        ERROR_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
        "was not found "
        "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on "
        "the server. Provide the correct ShellId or create a new shell and retry the operation.",
        subcode="w:InvalidSelectors",
        value="s:Sender",
    )


def resource_not_found(uri: str) -> WSManFault:
    return WSManFault(
        ERROR_RESOURCE_NOT_FOUND,
        "The WS-Management service cannot process the request. "
        f"The resource URI ({uri}) was not found in the "
        "WS-Management catalog. The catalog contains the metadata that describes resources, "
        "or logical endpoints.",
        subcode="w:DestinationUnreachable",
        value="s:Sender",
    )


def bad_request(problem: str) -> WSManFault:
    return WSManFault(
        ERROR_BAD_REQUEST,
        f"The WS-Management service cannot process the request because the XML is invalid: {problem}",
        subcode="w:SchemaValidationError",
        value="s:Sender",
    )


def _envelope(action: str, relates: str, body: str) -> bytes:
    text = (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" '
        f'xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" xmlns:p="{NS["p"]}">'
        f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>{relates}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def reply(action: str, relates_to: str, body: str) -> bytes:
    """A successful reply envelope (``<action>Response``) related to ``relates_to``."""
    return _envelope(action + "Response", f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>", body)


# ---------------------------------------------------------------------------------------------------------
# Request parsing
# ---------------------------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str | None, default: float) -> float:
    """``PT20.000S`` / ``PT1M`` / ``P0DT0H0M20S`` -> seconds."""
    if not text:
        return default
    m = _DURATION_RE.match(text.strip())
    if not m:
        return default
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


@dataclass
class WSManRequest:
    """The parts of a WS-Man request the lab uses."""

    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    operation_timeout: float
    max_envelope_size: int
    body: ET.Element | None
    to: str = ""

    @property
    def shell_id(self) -> str | None:
        for key, value in self.selectors.items():
            if key.lower() == "shellid":
                return value
        return None


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def parse_request(data: bytes) -> WSManRequest:
    """Parse a SOAP envelope; raises WSManFault(bad request) when it is not one."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise bad_request(str(exc)) from None
    if root.tag != _q("s", "Envelope"):
        raise bad_request("the root element is not a SOAP 1.2 Envelope")
    header = root.find(_q("s", "Header"))
    body = root.find(_q("s", "Body"))
    if header is None:
        raise bad_request("the envelope has no Header")

    def text(tag: str) -> str:
        el = header.find(tag)
        return (el.text or "").strip() if el is not None else ""

    selectors: dict[str, str] = {}
    sel_set = header.find(_q("w", "SelectorSet"))
    if sel_set is not None:
        for sel in sel_set.findall(_q("w", "Selector")):
            selectors[sel.attrib.get("Name", "")] = (sel.text or "").strip()
    options: dict[str, str] = {}
    opt_set = header.find(_q("w", "OptionSet"))
    if opt_set is not None:
        for opt in opt_set.findall(_q("w", "Option")):
            options[opt.attrib.get("Name", "")] = (opt.text or "").strip()
    try:
        max_env = int(text(_q("w", "MaxEnvelopeSize")) or 153600)
    except ValueError:
        raise bad_request("MaxEnvelopeSize is not a number") from None
    body_el = None
    if body is not None and len(body):
        body_el = body[0]
    return WSManRequest(
        action=text(_q("a", "Action")),
        message_id=text(_q("a", "MessageID")),
        resource_uri=text(_q("w", "ResourceURI")),
        selectors=selectors,
        options=options,
        operation_timeout=parse_duration(text(_q("w", "OperationTimeout")), 60.0),
        max_envelope_size=max(8192, max_env),
        body=body_el,
        to=text(_q("a", "To")),
    )


# ---------------------------------------------------------------------------------------------------------
# Shell registry and action dispatch
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ShellRegistry:
    """The shells of one endpoint (``wsman`` or ``exchange``) of one simulated server."""

    endpoint: str  # "wsman" | "exchange"
    configuration: str  # Microsoft.PowerShell | Microsoft.Exchange
    machine: str  # FQDN shown in faults
    address: str  # endpoint URL shown in CreateResponse
    runtime_factory: Callable[[str], cmdlets.Runtime]  # user -> Runtime
    stopping: threading.Event
    create_fault: FaultSpec | None = None
    on_thread: Callable[[threading.Thread], None] | None = None
    shells: dict[str, psrp.LabShell] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def resource_uri(self) -> str:
        return PS_RESOURCE_PREFIX + self.configuration

    def count(self) -> int:
        with self.lock:
            return len(self.shells)

    def close_all(self) -> None:
        with self.lock:
            shells = list(self.shells.values())
            self.shells.clear()
        for shell in shells:
            shell.close()

    def wake_all(self) -> None:
        with self.lock:
            shells = list(self.shells.values())
        for shell in shells:
            shell.wake()

    def handle(self, req: WSManRequest, user: str, client_ip: str) -> bytes:
        """Run one request; returns the reply envelope or raises WSManFault / psrp.HangForever."""
        action = req.action
        if action == TRANSFER + "Create":
            return self._create(req, user, client_ip)
        if action == TRANSFER + "Delete":
            return self._delete(req)
        if action == TRANSFER + "Get":
            return self._get(req, user, client_ip)
        if action.startswith(SHELL):
            verb = action[len(SHELL) :]
            handler = {
                "Command": self._command,
                "Send": self._send,
                "Receive": self._receive,
                "Signal": self._signal,
            }.get(verb)
            if handler is not None:
                return handler(req)
        raise WSManFault(
            ERROR_ACTION_NOT_SUPPORTED,
            f"The WS-Management service does not support the specified action: {action}",
            subcode="a:ActionNotSupported",
            value="s:Sender",
        )

    # -- helpers --------------------------------------------------------------------------------------

    def _shell(self, req: WSManRequest) -> psrp.LabShell:
        shell_id = req.shell_id or ""
        with self.lock:
            shell = self.shells.get(shell_id.upper())
        if shell is None:
            raise shell_not_found(shell_id)
        self._check_resource(req.resource_uri, allow_shell_uri=False)
        return shell

    def _check_resource(self, uri: str, *, allow_shell_uri: bool) -> None:
        if allow_shell_uri and uri.rstrip("/").lower() == SHELL_RESOURCE.lower():
            return
        if uri.lower() != self.resource_uri.lower():
            raise resource_not_found(uri)

    # -- transfer -------------------------------------------------------------------------------------

    def _create(self, req: WSManRequest, user: str, client_ip: str) -> bytes:
        self._check_resource(req.resource_uri, allow_shell_uri=False)
        if self.create_fault is not None:
            raise WSManFault(self.create_fault.code, self.create_fault.message, subcode="w:AccessDenied")
        shell_el = req.body
        if shell_el is None or shell_el.tag != _q("rsp", "Shell"):
            raise bad_request("Create needs an rsp:Shell body")
        shell_id = (shell_el.attrib.get("ShellId") or str(uuid.uuid4())).upper()
        creation = shell_el.find(_q("pwsh", "creationXml"))
        if creation is None or not (creation.text or "").strip():
            raise bad_request("a PowerShell shell needs creationXml")
        try:
            fragments = base64.b64decode(creation.text or "", validate=False)
        except (binascii.Error, ValueError):
            raise bad_request("creationXml is not base64") from None
        idle = shell_el.findtext(_q("rsp", "IdleTimeOut")) or "PT7200.000S"
        shell = psrp.LabShell(
            shell_id,
            self.resource_uri,
            self.runtime_factory(user),
            max_envelope_size=req.max_envelope_size,
            stopping=self.stopping,
            on_thread=self.on_thread,
        )
        try:
            shell.open(fragments)
        except Exception as exc:
            raise bad_request(f"creationXml could not be processed: {exc}") from None
        with self.lock:
            if shell_id in self.shells:
                raise WSManFault(
                    ERROR_BAD_REQUEST,
                    f"A shell with ShellId {shell_id} already exists.",
                    subcode="w:AlreadyExists",
                    value="s:Sender",
                )
            self.shells[shell_id] = shell
        body = (
            f"<x:ResourceCreated><a:Address>{escape(self.address)}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{escape(self.resource_uri)}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated>{self._shell_xml(shell, user, client_ip, idle)}"
        )
        return reply(req.action, req.message_id, body)

    def _shell_xml(self, shell: psrp.LabShell, user: str, client_ip: str, idle: str = "PT7200.000S") -> str:
        run_time = int(time.time() - shell.created)
        inactive = int(time.time() - shell.last_activity)
        state = "Disconnected" if shell.closed else "Connected"
        return (
            f"<rsp:Shell><rsp:ShellId>{shell.shell_id}</rsp:ShellId><rsp:Name>Runspace1</rsp:Name>"
            f"<rsp:ResourceUri>{escape(shell.resource_uri)}</rsp:ResourceUri><rsp:Owner>{escape(user)}</rsp:Owner>"
            f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP><rsp:ProcessId>4242</rsp:ProcessId>"
            f"<rsp:IdleTimeOut>{escape(idle)}</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>"
            f"<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut>"
            f"<rsp:Locale>en-US</rsp:Locale><rsp:DataLocale>en-US</rsp:DataLocale>"
            f"<rsp:CompressionMode>NoCompression</rsp:CompressionMode><rsp:ProfileLoaded>Yes</rsp:ProfileLoaded>"
            f"<rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode><rsp:State>{state}</rsp:State>"
            f"<rsp:ShellRunTime>P0DT0H0M{run_time}S</rsp:ShellRunTime>"
            f"<rsp:ShellInactivity>P0DT0H0M{inactive}S</rsp:ShellInactivity></rsp:Shell>"
        )

    def _delete(self, req: WSManRequest) -> bytes:
        shell_id = (req.shell_id or "").upper()
        self._check_resource(req.resource_uri, allow_shell_uri=True)
        with self.lock:
            shell = self.shells.pop(shell_id, None)
        if shell is None:
            raise shell_not_found(req.shell_id or "")
        shell.close()
        return reply(req.action, req.message_id, "")

    def _get(self, req: WSManRequest, user: str, client_ip: str) -> bytes:
        self._check_resource(req.resource_uri, allow_shell_uri=True)
        shell_id = (req.shell_id or "").upper()
        with self.lock:
            shell = self.shells.get(shell_id)
        if shell is None:
            raise shell_not_found(req.shell_id or "")
        return reply(req.action, req.message_id, self._shell_xml(shell, user, client_ip))

    # -- shell ----------------------------------------------------------------------------------------

    def _command(self, req: WSManRequest) -> bytes:
        shell = self._shell(req)
        line = req.body
        if line is None or line.tag != _q("rsp", "CommandLine"):
            raise bad_request("Command needs an rsp:CommandLine body")
        command_id = line.attrib.get("CommandId") or str(uuid.uuid4()).upper()
        args = line.find(_q("rsp", "Arguments"))
        try:
            fragment = base64.b64decode((args.text or "") if args is not None else "")
        except (binascii.Error, ValueError):
            raise bad_request("Arguments is not base64") from None
        try:
            command_id = shell.command(command_id, fragment)
        except psrp.ShellClosed:
            raise shell_not_found(shell.shell_id) from None
        except Exception as exc:
            raise bad_request(f"the pipeline could not be created: {exc}") from None
        body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"
        return reply(req.action, req.message_id, body)

    def _send(self, req: WSManRequest) -> bytes:
        shell = self._shell(req)
        send = req.body
        if send is None or send.tag != _q("rsp", "Send"):
            raise bad_request("Send needs an rsp:Send body")
        for stream in send.findall(_q("rsp", "Stream")):
            try:
                data = base64.b64decode(stream.text or "")
            except (binascii.Error, ValueError):
                raise bad_request("Stream is not base64") from None
            command_id = stream.attrib.get("CommandId")
            try:
                shell.send(stream.attrib.get("Name", "stdin"), command_id, data)
            except psrp.UnknownCommand:
                raise _unknown_command(shell.shell_id, command_id or "") from None
            except psrp.ShellClosed:
                raise shell_not_found(shell.shell_id) from None
            except Exception as exc:
                raise bad_request(f"the data could not be processed: {exc}") from None
        return reply(req.action, req.message_id, "<rsp:SendResponse/>")

    def _receive(self, req: WSManRequest) -> bytes:
        shell = self._shell(req)
        rec = req.body
        if rec is None or rec.tag != _q("rsp", "Receive"):
            raise bad_request("Receive needs an rsp:Receive body")
        desired = rec.find(_q("rsp", "DesiredStream"))
        command_id = desired.attrib.get("CommandId") if desired is not None else None
        budget = psrp.LabShell.budget_for(req.max_envelope_size)
        try:
            result = shell.receive(command_id, req.operation_timeout, budget)
        except psrp.OperationTimedOut:
            raise timeout_fault() from None
        except psrp.UnknownCommand:
            raise _unknown_command(shell.shell_id, command_id or "") from None
        except psrp.ShellClosed:
            raise shell_not_found(shell.shell_id) from None
        cid = f" CommandId={quoteattr(result.command_id)}" if result.command_id else ""
        parts = [f'<rsp:Stream Name="stdout"{cid}>{base64.b64encode(p).decode()}</rsp:Stream>' for p in result.payloads]
        if result.command_id:
            if result.done:
                parts.append(
                    f'<rsp:CommandState{cid} State="{CMD_DONE}"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>'
                )
            else:
                parts.append(f'<rsp:CommandState{cid} State="{CMD_RUNNING}"/>')
        body = f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
        return reply(req.action, req.message_id, body)

    def _signal(self, req: WSManRequest) -> bytes:
        shell = self._shell(req)
        sig = req.body
        if sig is None or sig.tag != _q("rsp", "Signal"):
            raise bad_request("Signal needs an rsp:Signal body")
        command_id = sig.attrib.get("CommandId", "")
        code = (sig.findtext(_q("rsp", "Code")) or "").strip()
        try:
            if code.lower() == SIGNAL_TERMINATE:
                shell.signal_terminate(command_id)
            elif code.lower() in SIGNAL_STOP:
                shell.signal_stop(command_id)
            else:
                raise WSManFault(
                    ERROR_BAD_REQUEST,
                    f"The signal code {code} is not supported.",
                    subcode="w:InvalidParameter",
                    value="s:Sender",
                )
        except psrp.UnknownCommand:
            raise _unknown_command(shell.shell_id, command_id) from None
        return reply(req.action, req.message_id, "<rsp:SignalResponse/>")


def _unknown_command(shell_id: str, command_id: str) -> WSManFault:
    return WSManFault(
        ERROR_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the command with "
        f"CommandId {command_id} was not found on the server.",
        subcode="w:InvalidSelectors",
        value="s:Sender",
    )
