"""The fake PowerShell: what a simulated server does with a pipeline's commands.

What it does: runs the commands of one PSRP pipeline with PowerShell semantics the lab needs —
statements in order, each command's output feeding the next, non-terminating errors (error stream,
pipeline Completed) versus terminating errors (pipeline Failed, earlier output still delivered),
NoLanguage on the Exchange endpoint (any script fails with the ParseException text), unknown commands
(CommandNotFoundException), and a small set of cmdlets:

* Exchange endpoint (``Microsoft.Exchange``): ``Get-ExchangeServer [-Identity]``,
  ``Get-OrganizationConfig``, ``Select-Object``.
* WS-Man endpoint (``Microsoft.PowerShell``): the eems-check collector script (a script containing the
  line ``# eems-check-collector``), ``Invoke-Expression`` + ``Out-String`` (what ``Client.execute_ps``
  sends) for a tiny set of script lines, ``New-Item env:``, ``Out-Null``, ``Write-Output``,
  ``Write-Warning``, ``Write-Verbose``, ``Write-Debug``, ``Write-Error`` (``-ErrorAction Stop`` makes it
  terminating), ``Start-Sleep``, ``Select-Object``.

What it must not do: touch psrpcore pipelines or queues directly (it writes through ``Sink``), block
without going through ``Sink.sleep``/``Sink.hang`` (so stop/close can interrupt), or execute anything
for real.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psrpcore import Command
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSObject,
)

from eems_check.lab import collector, hostless, objects
from eems_check.lab.orgfile import LabOrgSpec, ServerSpec

__all__ = [
    "NOLANGUAGE_MESSAGE",
    "PipelineStopped",
    "Runtime",
    "Sink",
    "execute",
    "internal_error",
    "not_supported_error",
]

NOLANGUAGE_MESSAGE = (
    "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
)
PS_VERSION = "5.1.17763.6414"


class PipelineStopped(Exception):
    """The pipeline was stopped (signal, Terminate, shell deleted or lab stopping)."""


class TerminatingError(Exception):
    """Ends the pipeline Failed with ``record``."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(str(record.Exception.Message if record.Exception else ""))
        self.record = record


class Sink(abc.ABC):
    """Where a running pipeline writes. Every method raises PipelineStopped once stopped."""

    @property
    @abc.abstractmethod
    def stopped(self) -> bool: ...

    @abc.abstractmethod
    def output(self, value: Any) -> None: ...

    @abc.abstractmethod
    def error(self, record: ErrorRecord) -> None: ...

    @abc.abstractmethod
    def warning(self, message: str) -> None: ...

    @abc.abstractmethod
    def verbose(self, message: str) -> None: ...

    @abc.abstractmethod
    def debug(self, message: str) -> None: ...

    @abc.abstractmethod
    def sleep(self, seconds: float) -> None: ...

    @abc.abstractmethod
    def hang(self) -> None:
        """Never finish; the HTTP layer stops answering this pipeline's Receives."""


@dataclass
class Runtime:
    """Per-shell state: which org/server/endpoint this runspace belongs to, and its environment."""

    org: LabOrgSpec
    server: ServerSpec
    endpoint: str  # "exchange" | "wsman"
    env: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    user: str = ""

    def __post_init__(self) -> None:
        defaults = {
            "COMPUTERNAME": self.server.name.upper(),
            "USERDOMAIN": self.org.netbios_domain,
            "USERNAME": (self.user.split("\\")[-1].split("@")[0] if self.user else "scanner"),
            "ExchangeInstallPath": self.server.install_path,
            "PROCESSOR_ARCHITECTURE": "AMD64",
        }
        for key, value in defaults.items():
            self.env.setdefault(key, value)

    def getenv(self, name: str) -> str | None:
        for key, value in self.env.items():
            if key.lower() == name.lower():
                return value
        return None


# ---------------------------------------------------------------------------------------------------------
# Error records
# ---------------------------------------------------------------------------------------------------------

_RUNTIME_EXC = [
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
    "System.Exception",
    "System.Object",
]


def _record(
    message: str,
    exception_types: list[str],
    category: ErrorCategory,
    reason: str,
    fqid: str,
    *,
    target: Any = None,
    target_name: str = "",
    target_type: str = "",
    activity: str = "",
    hresult: int = -2146233087,
) -> ErrorRecord:
    exc = NETException(Message=message, HResult=hresult)
    exc.PSObject.type_names = list(exception_types)
    return ErrorRecord(
        Exception=exc,
        CategoryInfo=ErrorCategoryInfo(
            Category=category,
            Activity=activity or None,
            Reason=reason,
            TargetName=target_name or None,
            TargetType=target_type or None,
        ),
        TargetObject=target,
        FullyQualifiedErrorId=fqid,
    )


def command_not_found(name: str) -> ErrorRecord:
    return _record(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
        ["System.Management.Automation.CommandNotFoundException", *_RUNTIME_EXC],
        ErrorCategory.ObjectNotFound,
        "CommandNotFoundException",
        "CommandNotFoundException",
        target=name,
        target_name=name,
        target_type="String",
    )


def nolanguage_error() -> ErrorRecord:
    return _record(
        NOLANGUAGE_MESSAGE,
        ["System.Management.Automation.ParseException", *_RUNTIME_EXC],
        ErrorCategory.ParserError,
        "ParseException",
        "ScriptsNotAllowed",
    )


def parameter_not_found(cmdlet: str, name: str, fq_cmdlet: str) -> ErrorRecord:
    return _record(
        f"A parameter cannot be found that matches parameter name '{name}'.",
        ["System.Management.Automation.ParameterBindingException", *_RUNTIME_EXC],
        ErrorCategory.InvalidArgument,
        "ParameterBindingException",
        f"NamedParameterNotFound,{fq_cmdlet}",
        activity=cmdlet,
    )


def positional_not_found(cmdlet: str, value: Any, fq_cmdlet: str) -> ErrorRecord:
    return _record(
        f"A positional parameter cannot be found that accepts argument '{value}'.",
        ["System.Management.Automation.ParameterBindingException", *_RUNTIME_EXC],
        ErrorCategory.InvalidArgument,
        "ParameterBindingException",
        f"PositionalParameterNotFound,{fq_cmdlet}",
        activity=cmdlet,
    )


def not_supported_error(feature: str) -> ErrorRecord:
    return _record(
        f"{feature} is not supported by the eems-check lab.",
        ["System.NotSupportedException", "System.SystemException", "System.Exception", "System.Object"],
        ErrorCategory.NotImplemented,
        "NotSupportedException",
        "NotSupported",
        hresult=-2146233067,
    )


def internal_error(exc: BaseException) -> ErrorRecord:
    return _record(
        f"The eems-check lab failed while running the pipeline: {type(exc).__name__}: {exc}",
        ["System.InvalidOperationException", "System.SystemException", "System.Exception", "System.Object"],
        ErrorCategory.NotSpecified,
        "InvalidOperationException",
        "LabInternalError",
    )


def _object_not_found(rt: Runtime, identity: str) -> ErrorRecord:
    request_id = uuid.uuid4()
    stamp = rt.clock().strftime("%-m/%-d/%Y %-I:%M:%S %p")
    return _record(
        f"The operation couldn't be performed because object '{identity}' couldn't be found on "
        f"'{rt.org.domain_controller}'.",
        [
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            "Microsoft.Exchange.Data.Common.LocalizedException",
            "System.Exception",
            "System.Object",
        ],
        ErrorCategory.NotSpecified,
        "ManagementObjectNotFoundException",
        f"[Server={rt.server.name.upper()},RequestId={request_id},TimeStamp={stamp}] "
        "[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 9B4FB2AF,"
        "Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeServer",
        activity="Get-ExchangeServer",
        hresult=-2146233088,
    )


# ---------------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------------


class Params:
    """A command's parameters: named (case-insensitive) and positional."""

    def __init__(self, cmd: Command) -> None:
        self.named: dict[str, tuple[str, Any]] = {}
        self.positional: list[Any] = []
        for name, value in cmd.parameters:
            if name is None:
                self.positional.append(value)
            else:
                self.named[name.lower().lstrip("-")] = (name, value)

    def has(self, name: str) -> bool:
        return name.lower() in self.named

    def get(self, name: str, default: Any = None) -> Any:
        entry = self.named.get(name.lower())
        return default if entry is None else entry[1]

    def switch(self, name: str) -> bool:
        if not self.has(name):
            return False
        value = self.get(name)
        return value is None or bool(value)

    def check(self, cmdlet: str, fq_cmdlet: str, allowed: tuple[str, ...], max_positional: int = 0) -> None:
        common = (
            "erroraction",
            "warningaction",
            "verbose",
            "debug",
            "informationaction",
            "outvariable",
            "errorvariable",
            "warningvariable",
            "outbuffer",
            "pipelinevariable",
            "domaincontroller",
        )
        lowered = {a.lower() for a in allowed}
        for key, (name, _) in self.named.items():
            if key not in lowered and key not in common:
                raise TerminatingError(parameter_not_found(cmdlet, name, fq_cmdlet))
        if len(self.positional) > max_positional:
            raise TerminatingError(positional_not_found(cmdlet, self.positional[max_positional], fq_cmdlet))


Handler = Callable[[Runtime, Params, list[Any], Callable[[Any], None], Sink], None]


# ---------------------------------------------------------------------------------------------------------
# Pipeline execution
# ---------------------------------------------------------------------------------------------------------


def execute(rt: Runtime, commands: list[Command], pipeline_input: list[Any], sink: Sink) -> ErrorRecord | None:
    """Run a pipeline. Returns None (Completed) or the ErrorRecord it Failed with."""
    statements: list[list[Command]] = [[]]
    for cmd in commands:
        statements[-1].append(cmd)
        if cmd.end_of_statement:
            statements.append([])
    statements = [s for s in statements if s]
    table = EXCHANGE_COMMANDS if rt.endpoint == "exchange" else WSMAN_COMMANDS

    for index, statement in enumerate(statements):
        if rt.endpoint == "exchange" and any(c.is_script for c in statement):
            return nolanguage_error()
        handlers: list[Handler] = []
        for cmd in statement:
            if cmd.is_script:
                handlers.append(_script_handler(cmd.command_text))
                continue
            handler = table.get(cmd.command_text.lower())
            if handler is None:
                return command_not_found(cmd.command_text)
            handlers.append(handler)
        data: list[Any] = list(pipeline_input) if index == 0 else []
        for position, (cmd, handler) in enumerate(zip(statement, handlers, strict=True)):
            last = position == len(statement) - 1
            collected: list[Any] = []
            emit: Callable[[Any], None] = sink.output if last else collected.append
            try:
                handler(rt, Params(cmd), data, emit, sink)
            except TerminatingError as exc:
                return exc.record
            data = collected
    return None


# -- Exchange cmdlets ------------------------------------------------------------------------------------

_GES = "Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeServer"
_GOC = "Microsoft.Exchange.Management.SystemConfigurationTasks.GetOrganizationConfig"


def _get_exchange_server(rt: Runtime, p: Params, _input: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check("Get-ExchangeServer", _GES, ("Identity", "Status", "ReadFromDomainController"), max_positional=1)
    identity = p.get("Identity")
    if identity is None and p.positional:
        identity = p.positional[0]
    if rt.org.replay is not None:  # a capture's own objects (lab serve --replay)
        for obj in rt.org.replay.server_objects():
            name = str(obj.PSObject.to_string or "")
            if identity is None or str(identity).lower() in (name.lower(), _fqdn_of(obj).lower()):
                emit(obj)
        return
    if identity is None:
        ad_error = rt.server.fault("ad_error", "exchange")
        for index, server in enumerate(rt.org.servers):
            if ad_error is not None and index == ad_error.after:
                record = _ad_unavailable(rt)
                if ad_error.terminating:
                    raise TerminatingError(record)
                sink.error(record)
                return
            emit(objects.exchange_server(server, rt.org))
        return
    wanted = str(identity)
    found = rt.org.server(wanted)
    if found is None:
        sink.error(_object_not_found(rt, wanted))
        return
    emit(objects.exchange_server(found, rt.org))


def _ad_unavailable(rt: Runtime) -> ErrorRecord:
    """What Get-ExchangeServer writes when its domain controller stops answering in the middle of a list."""
    return _record(
        f"Active Directory operation failed on {rt.org.domain_controller}. This error is not retriable. "
        "Additional information: The server is not operational.",
        [
            "Microsoft.Exchange.Data.Directory.ADTransientException",
            "Microsoft.Exchange.Data.Directory.ADOperationException",
            "Microsoft.Exchange.Data.DataSourceOperationException",
            "System.Exception",
            "System.Object",
        ],
        ErrorCategory.ReadError,
        "ADTransientException",
        f"[Server={rt.server.name.upper()}] [FailureCategory=Cmdlet-ADTransientException] 8E1A4B23,{_GES}",
    )


def _get_organization_config(
    rt: Runtime, p: Params, _input: list[Any], emit: Callable[[Any], None], sink: Sink
) -> None:
    p.check("Get-OrganizationConfig", _GOC, ("Identity",), max_positional=1)
    if rt.org.replay is not None:
        for obj in rt.org.replay.config_objects():
            emit(obj)
        return
    emit(objects.organization_config(rt.org))


def _fqdn_of(obj: Any) -> str:
    for prop in getattr(getattr(obj, "PSObject", None), "adapted_properties", ()):
        if prop.name == "Fqdn":
            return str(prop.value or "")
    return ""


# -- generic cmdlets -------------------------------------------------------------------------------------


def _property(obj: Any, name: str) -> Any:
    if isinstance(obj, PSObject):
        meta = obj.PSObject
        for prop in [*meta.extended_properties, *meta.adapted_properties]:
            if prop.name.lower() == name.lower():
                return prop.get_value(obj)
        return None
    if isinstance(obj, dict):
        for key, value in obj.items():
            if str(key).lower() == name.lower():
                return value
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _select_object(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "Select-Object",
        "Microsoft.PowerShell.Commands.SelectObjectCommand",
        ("Property", "First", "Last", "Skip", "ExpandProperty", "InputObject"),
        max_positional=1,
    )
    if p.has("InputObject"):
        data = _as_list(p.get("InputObject"))
    props = [str(x) for x in _as_list(p.get("Property", p.positional[0] if p.positional else None))]
    if p.has("Skip"):
        data = data[int(p.get("Skip")) :]
    if p.has("First"):
        data = data[: int(p.get("First"))]
    if p.has("Last"):
        n = int(p.get("Last"))
        data = data[-n:] if n else []
    expand = p.get("ExpandProperty")
    for item in data:
        if expand:
            value = _property(item, str(expand))
            for v in _as_list(value):
                emit(v)
            continue
        if not props or props == ["*"]:
            emit(item)
            continue
        names = [f"Selected.{t}" for t in item.PSObject.type_names[:1]] if isinstance(item, PSObject) else []
        emit(objects.note_object([(name, _property(item, name)) for name in props], names))


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, PSObject) and value.PSObject.to_string is not None:
        return value.PSObject.to_string
    if isinstance(value, PSObject) and not isinstance(value, (str, int, float)):
        props = [*value.PSObject.adapted_properties, *value.PSObject.extended_properties]
        if props:
            width = max(len(x.name) for x in props)
            return "\r\n".join(f"{x.name.ljust(width)} : {_text_of(x.get_value(value))}" for x in props)
    return str(value)


def _out_string(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check("Out-String", "Microsoft.PowerShell.Commands.OutStringCommand", ("Stream", "Width", "InputObject"))
    if p.has("InputObject"):
        data = _as_list(p.get("InputObject"))
    if p.switch("Stream"):
        for item in data:
            for line in _text_of(item).splitlines() or [""]:
                emit(line)
        return
    emit("".join(_text_of(item) + "\r\n" for item in data))


def _out_null(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check("Out-Null", "Microsoft.PowerShell.Commands.OutNullCommand", ("InputObject",))


def _write_output(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "Write-Output",
        "Microsoft.PowerShell.Commands.WriteOutputCommand",
        ("InputObject", "NoEnumerate"),
        max_positional=64,
    )
    values = _as_list(p.get("InputObject")) + p.positional if p.has("InputObject") or p.positional else data
    for v in values:
        emit(v)


def _message(p: Params, cmdlet: str, fq: str) -> str:
    p.check(cmdlet, fq, ("Message",), max_positional=1)
    value = p.get("Message", p.positional[0] if p.positional else "")
    return "" if value is None else str(value)


def _write_warning(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    sink.warning(_message(p, "Write-Warning", "Microsoft.PowerShell.Commands.WriteWarningCommand"))


def _write_verbose(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    text = _message(p, "Write-Verbose", "Microsoft.PowerShell.Commands.WriteVerboseCommand")
    if p.switch("Verbose"):  # $VerbosePreference is SilentlyContinue unless -Verbose
        sink.verbose(text)


def _write_debug(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    text = _message(p, "Write-Debug", "Microsoft.PowerShell.Commands.WriteDebugCommand")
    if p.switch("Debug"):
        sink.debug(text)


def _write_error(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "Write-Error",
        "Microsoft.PowerShell.Commands.WriteErrorCommand",
        ("Message", "Category", "ErrorId", "TargetObject"),
        max_positional=1,
    )
    text = str(p.get("Message", p.positional[0] if p.positional else ""))
    record = _record(
        text,
        [
            "Microsoft.PowerShell.Commands.WriteErrorException",
            "System.SystemException",
            "System.Exception",
            "System.Object",
        ],
        ErrorCategory.NotSpecified,
        "WriteErrorException",
        str(p.get("ErrorId") or "Microsoft.PowerShell.Commands.WriteErrorException"),
        target=p.get("TargetObject"),
    )
    if str(p.get("ErrorAction", "")).lower() == "stop":
        raise TerminatingError(record)
    sink.error(record)


def _start_sleep(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "Start-Sleep",
        "Microsoft.PowerShell.Commands.StartSleepCommand",
        ("Seconds", "Milliseconds"),
        max_positional=1,
    )
    seconds = float(p.get("Seconds", p.positional[0] if p.positional else 0) or 0)
    seconds += float(p.get("Milliseconds", 0) or 0) / 1000
    sink.sleep(seconds)


def _new_item(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "New-Item",
        "Microsoft.PowerShell.Commands.NewItemCommand",
        ("Path", "Name", "Value", "Force", "ItemType"),
        max_positional=1,
    )
    path = str(p.get("Path", p.positional[0] if p.positional else "")).rstrip("\\")
    if path.lower() not in ("env:", "env"):
        sink.error(
            _record(
                f"The eems-check lab only supports New-Item on the env: drive, not '{path}'.",
                [
                    "System.NotSupportedException",
                    "System.SystemException",
                    "System.Exception",
                    "System.Object",
                ],
                ErrorCategory.NotImplemented,
                "NotSupportedException",
                "NotSupported,Microsoft.PowerShell.Commands.NewItemCommand",
                target=path,
            )
        )
        return
    name, value = str(p.get("Name", "")), str(p.get("Value", ""))
    rt.env[name] = value
    emit(objects.note_object([("Name", name), ("Value", value)], ["System.Collections.DictionaryEntry"]))


def _invoke_expression(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
    p.check(
        "Invoke-Expression",
        "Microsoft.PowerShell.Commands.InvokeExpressionCommand",
        ("Command",),
        max_positional=1,
    )
    script = p.get("Command", p.positional[0] if p.positional else "")
    _run_script_text(rt, str(script or ""), emit, sink)


# -- scripts ---------------------------------------------------------------------------------------------

_STRING_RE = re.compile(r"""^(?:'((?:[^']|'')*)'|"((?:[^"`]|`.)*)")$""")


def _literal(text: str) -> str | None:
    m = _STRING_RE.match(text.strip())
    if not m:
        return None
    if m.group(1) is not None:
        return m.group(1).replace("''", "'")
    return re.sub(r"`(.)", r"\1", m.group(2))


def _run_script_line(rt: Runtime, line: str, emit: Callable[[Any], None], sink: Sink) -> None:
    lowered = line.lower()
    if lowered in ("hostname", "hostname.exe"):
        emit(rt.server.name)
        return
    if lowered == "$psversiontable.psversion.tostring()":
        emit(PS_VERSION)
        return
    if lowered in ("$psversiontable.psedition",):
        emit("Desktop")
        return
    env = re.match(r"^\$env:([A-Za-z_][A-Za-z0-9_]*)$", line)
    if env:
        value = rt.getenv(env.group(1))
        if value is not None:
            emit(value)
        return
    literal = _literal(line)
    if literal is not None:
        emit(literal)
        return
    cmd = re.match(
        r"^(Write-Warning|Write-Output|Write-Verbose|Write-Host)\s+(?:-Message\s+|-InputObject\s+)?(.+)$",
        line,
        re.IGNORECASE,
    )
    if cmd and _literal(cmd.group(2)) is not None:
        text = _literal(cmd.group(2)) or ""
        verb = cmd.group(1).lower()
        if verb == "write-warning":
            sink.warning(text)
        elif verb == "write-output":
            emit(text)
        elif verb == "write-host":
            emit(text)  # the host output of a remote runspace lands in the output for execute_ps callers
        return
    if line.startswith("$"):
        return  # an unset variable is $null: no output
    name = line.split()[0]
    sink.error(command_not_found(name))


def _run_script_text(rt: Runtime, script: str, emit: Callable[[Any], None], sink: Sink) -> None:
    for raw in script.replace("\r\n", "\n").split("\n"):
        for part in raw.split(";"):
            line = part.strip()
            if line and not line.startswith("#"):
                _run_script_line(rt, line, emit, sink)


_COLLECTOR_PARAMS = ("MaxEvents", "EventDays", "MaxLogLines", "MaxLogBytes", "ProbeOcs", "RunGetMitigations", "Proxy")


def _int_param(p: Params, name: str, default: int) -> int:
    if not p.has(name):
        return default
    value = p.get(name)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        return int(str(value).strip())
    except ValueError:
        raise TerminatingError(
            _record(
                f"Cannot process argument transformation on parameter '{name}'. "
                f'Cannot convert value "{value}" to '
                'type "System.Int32". Error: "Input string was not in a correct format."',
                [
                    "System.Management.Automation.ParameterBindingArgumentTransformationException",
                    "System.Management.Automation.ParameterBindingException",
                    *_RUNTIME_EXC,
                ],
                ErrorCategory.InvalidData,
                "ParameterBindingArgumentTransformationException",
                f"ParameterArgumentTransformationError,{name}",
            )
        ) from None


def _run_collector(
    rt: Runtime, p: Params, emit: Callable[[Any], None], sink: Sink, shape: hostless.ScriptShape
) -> None:
    p.check("eems-check-collector", "eems-check-collector", _COLLECTOR_PARAMS)
    params = collector.CollectorParams(
        max_events=_int_param(p, "MaxEvents", 50),
        event_days=_int_param(p, "EventDays", 30),
        max_log_lines=_int_param(p, "MaxLogLines", 200),
        probe_ocs=p.switch("ProbeOcs"),
        run_get_mitigations=p.switch("RunGetMitigations"),
        proxy=str(p.get("Proxy")) if p.get("Proxy") else None,
        imports_exchange_session=shape.imports_exchange_session,
    )
    server = rt.server
    delay = server.fault("delay", scope="collector")
    if delay is not None:
        sink.sleep(delay.ms / 1000)
    if server.fault("hang", scope="collector") is not None:
        sink.hang()
    now = rt.clock()
    captured = rt.org.replay.answer(server.name) if rt.org.replay is not None else None
    if captured is not None:
        emit(captured)  # what the real server answered, unchanged
        return
    if server.fault("garbage") is not None:
        emit(collector.garbage_text(server))
        return
    oversized = server.fault("oversized")
    if oversized is not None:
        emit(collector.oversized_document(server, params, now, oversized.mb))
        return
    emit(collector.render(collector.build_document(server, params, now)))


def _script_handler(text: str) -> Handler:
    def run(rt: Runtime, p: Params, data: list[Any], emit: Callable[[Any], None], sink: Sink) -> None:
        shape = hostless.analyse(text)  # what a host-less session refuses fails here as it would on a server
        if shape.refusal is not None:
            r = shape.refusal
            raise TerminatingError(
                _record(r.message, [r.exception, *_RUNTIME_EXC], ErrorCategory.NotImplemented, r.reason, r.fqid)
            )
        if collector.COLLECTOR_MARKER in text:
            _run_collector(rt, p, emit, sink, shape)
            return
        p.check("ScriptBlock", "ScriptBlock", ())
        _run_script_text(rt, text, emit, sink)

    return run


EXCHANGE_COMMANDS: dict[str, Handler] = {
    "get-exchangeserver": _get_exchange_server,
    "get-organizationconfig": _get_organization_config,
    "select-object": _select_object,
}

WSMAN_COMMANDS: dict[str, Handler] = {
    "invoke-expression": _invoke_expression,
    "out-string": _out_string,
    "out-null": _out_null,
    "new-item": _new_item,
    "select-object": _select_object,
    "write-output": _write_output,
    "write-warning": _write_warning,
    "write-verbose": _write_verbose,
    "write-debug": _write_debug,
    "write-error": _write_error,
    "start-sleep": _start_sleep,
}
