"""PSRP session glue: one psrpcore ``ServerRunspacePool`` per WinRS shell, one ``ServerPipeline`` per command.

What it does:
* feeds incoming fragments (Create's creationXml, Command's first fragment, Send data) to psrpcore and
  reacts to the resulting events (pipeline creation and input, runspace availability requests);
* runs each pipeline's fake PowerShell (``cmdlets.execute``) on a worker thread and writes its output,
  errors, warnings and final state through psrpcore;
* routes every outgoing payload into the pool queue or the queue of its pipeline, so that each WS-Man
  Receive gets only its own messages, sized to fit the client's MaxEnvelopeSize;
* long-polls: ``receive`` waits for data, completion or the operation timeout.

Locking: one ``threading.Condition`` per shell guards the pool, its pipelines and all queues
(psrpcore is not thread-safe). Worker threads write only through it.

What it must not do: speak SOAP/HTTP or know about authentication; decide what a command does (that is
``cmdlets``); call psrpcore private API except through ``_psrpcore_compat``.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psrpcore
from psrpcore.types import (
    ErrorRecord,
    PSInvocationState,
    PSVersion,
)

from eems_check.lab import _psrpcore_compat as compat
from eems_check.lab import cmdlets

__all__ = [
    "LabShell",
    "OperationTimedOut",
    "ReceiveResult",
    "ShellClosed",
    "UnknownCommand",
    "windows_powershell_private_data",
]

# Raw PSRP bytes per pump; each payload becomes one <rsp:Stream> element.
_MAX_PUMP = 32 * 1024
# Room left for the SOAP envelope around the base64 streams of one Receive reply.
_ENVELOPE_OVERHEAD = 3072


class OperationTimedOut(Exception):
    """Nothing to return before the request's OperationTimeout (-> WS-Man fault 0x80338029)."""


class UnknownCommand(Exception):
    """A CommandId that this shell does not know."""


class ShellClosed(Exception):
    """The shell was deleted or the lab is stopping while a request waited."""


class HangForever(Exception):
    """The pipeline asked the HTTP layer never to answer (the ``hang`` fault)."""


@dataclass
class ReceiveResult:
    """Payloads for one Receive reply; ``done`` = the pipeline finished and everything was delivered."""

    payloads: list[bytes]
    done: bool
    command_id: str | None


@dataclass
class _Run:
    """One pipeline as the lab tracks it."""

    pid: uuid.UUID
    command_id: str
    pipeline: psrpcore.ServerPipeline
    queue: deque[bytes] = field(default_factory=deque)
    commands: list[psrpcore.Command] | None = None
    no_input: bool = True
    input: list[Any] = field(default_factory=list)
    input_done: bool = False
    started: bool = False
    finished: bool = False
    hang: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)


@functools.lru_cache(maxsize=1024)
def _as_uuid(text: str) -> uuid.UUID:
    """``uuid.UUID(text)``, remembered: every Receive and Send names its CommandId again (UUIDs are immutable)."""
    return uuid.UUID(text)


def windows_powershell_private_data(build: str = "10.0.17763.6414") -> dict[str, Any]:
    """APPLICATION_PRIVATE_DATA as Windows PowerShell 5.1 on Windows Server 2019 sends it."""
    return {
        "PSVersionTable": {
            "PSVersion": PSVersion("5.1.17763.6414"),
            "PSEdition": "Desktop",
            "PSCompatibleVersions": [
                PSVersion("1.0"),
                PSVersion("2.0"),
                PSVersion("3.0"),
                PSVersion("4.0"),
                PSVersion("5.0"),
                PSVersion("5.1.17763.6414"),
            ],
            "BuildVersion": PSVersion(build),
            "CLRVersion": PSVersion("4.0.30319.42000"),
            "WSManStackVersion": PSVersion("3.0"),
            "PSRemotingProtocolVersion": PSVersion("2.3"),
            "SerializationVersion": PSVersion("1.1.0.1"),
        }
    }


class LabShell:
    """A WinRS shell hosting one PSRP runspace pool."""

    def __init__(
        self,
        shell_id: str,
        resource_uri: str,
        runtime: cmdlets.Runtime,
        *,
        max_envelope_size: int = 153600,
        stopping: threading.Event | None = None,
        on_thread: Callable[[threading.Thread], None] | None = None,
    ) -> None:
        self.shell_id = shell_id
        self.resource_uri = resource_uri
        self.runtime = runtime
        self.created = time.time()
        self.last_activity = self.created
        self.cond = threading.Condition()
        self.pool = psrpcore.ServerRunspacePool(application_private_data=windows_powershell_private_data())
        self.pool_queue: deque[bytes] = deque()
        self.runs: dict[uuid.UUID, _Run] = {}
        self.closed = False
        self._stopping = stopping or threading.Event()
        self._on_thread = on_thread
        self.reply_budget = self.budget_for(max_envelope_size)

    # -- sizing ---------------------------------------------------------------------------------------

    @staticmethod
    def budget_for(max_envelope_size: int) -> int:
        """Raw PSRP bytes that fit in one reply for a given MaxEnvelopeSize (base64 is 4/3)."""
        return max(1024, (max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4)

    # -- incoming -------------------------------------------------------------------------------------

    def open(self, creation_fragments: bytes) -> None:
        """Process creationXml (SESSION_CAPABILITY + INIT_RUNSPACEPOOL) synchronously."""
        with self.cond:
            self.pool.receive_data(psrpcore.PSRPPayload(creation_fragments, psrpcore.StreamType.default, None))
            self._process_events()
            if self.pool.state != psrpcore.types.RunspacePoolState.Opened:
                raise ValueError("creationXml did not open the runspace pool")

    def command(self, command_id: str, first_fragment: bytes) -> str:
        """Start a pipeline (Command). Returns the CommandId to answer with."""
        with self.cond:
            self._check_open()
            try:
                pid = uuid.UUID(command_id)
            except ValueError:
                pid = uuid.uuid4()
                command_id = str(pid).upper()
            run = _Run(pid=pid, command_id=command_id, pipeline=psrpcore.ServerPipeline(self.pool, pid))
            self.runs[pid] = run
            self.pool.receive_data(psrpcore.PSRPPayload(first_fragment, psrpcore.StreamType.default, pid))
            self._process_events()
            self.last_activity = time.time()
            return command_id

    def send(self, stream: str, command_id: str | None, data: bytes) -> None:
        """More fragments (Send): pipeline input, remaining CreatePipeline fragments, pool messages."""
        with self.cond:
            self._check_open()
            pid = self._pid(command_id) if command_id else None
            stream_type = psrpcore.StreamType.prompt_response if stream == "pr" else psrpcore.StreamType.default
            self.pool.receive_data(psrpcore.PSRPPayload(data, stream_type, pid))
            self._process_events()
            self.last_activity = time.time()

    def signal_stop(self, command_id: str) -> None:
        """``powershell/signal/ctrl_c`` (or ``crtl_c``): stop a running pipeline."""
        with self.cond:
            run = self.runs.get(self._pid(command_id))
            if run is None:
                return
            self._stop_run(run)
            self._pump()
            self.cond.notify_all()

    def signal_terminate(self, command_id: str) -> None:
        """``…/signal/Terminate``: drop the pipeline (stopping it first if it still runs)."""
        with self.cond:
            pid = self._pid(command_id)
            run = self.runs.get(pid)
            if run is None:
                return
            self._stop_run(run)
            self._drop_run(run)
            self.cond.notify_all()

    def close(self) -> None:
        """Delete: stop every pipeline and forget the pool."""
        with self.cond:
            if self.closed:
                return
            for run in list(self.runs.values()):
                self._stop_run(run)
                self._drop_run(run)
            self.closed = True
            self.pool_queue.clear()
            self.cond.notify_all()

    def wake(self) -> None:
        """Wake every waiting Receive (used when the lab stops)."""
        with self.cond:
            self.cond.notify_all()

    def has_command(self, command_id: str) -> bool:
        with self.cond:
            return self._pid(command_id) in self.runs

    # -- outgoing -------------------------------------------------------------------------------------

    def receive(self, command_id: str | None, timeout: float, budget: int | None = None) -> ReceiveResult:
        """Long-poll for the pool's (no CommandId) or one pipeline's output."""
        budget = min(budget or self.reply_budget, self.reply_budget)
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cond:
            if command_id is None:
                while not self.pool_queue:
                    self._wait_or_raise(deadline)
                return ReceiveResult(self._take(self.pool_queue, budget), False, None)

            pid = self._pid(command_id)
            while True:
                run = self.runs.get(pid)
                if run is None:
                    raise UnknownCommand(command_id)
                if run.hang:
                    raise HangForever()
                if run.queue or run.finished:
                    break
                self._wait_or_raise(deadline)
            payloads = self._take(run.queue, budget)
            self.last_activity = time.time()
            return ReceiveResult(payloads, run.finished and not run.queue, run.command_id)

    def _wait_or_raise(self, deadline: float) -> None:
        if self.closed or self._stopping.is_set():
            raise ShellClosed()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OperationTimedOut()
        self.cond.wait(min(remaining, 0.5))
        if self.closed or self._stopping.is_set():
            raise ShellClosed()

    @staticmethod
    def _take(queue: deque[bytes], budget: int) -> list[bytes]:
        out: list[bytes] = []
        used = 0
        while queue and (not out or used + len(queue[0]) <= budget):
            chunk = queue.popleft()
            used += len(chunk)
            out.append(chunk)
        return out

    # -- internals (call with self.cond held) -----------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ShellClosed()

    def _pid(self, command_id: str) -> uuid.UUID:
        try:
            return _as_uuid(command_id)
        except ValueError:
            for run in self.runs.values():
                if run.command_id.lower() == command_id.lower():
                    return run.pid
            raise UnknownCommand(command_id) from None

    def _pump(self) -> None:
        amount = min(_MAX_PUMP, self.reply_budget)
        while True:
            payload = self.pool.data_to_send(amount)
            if payload is None:
                break
            if payload.pipeline_id is None:
                self.pool_queue.append(payload.data)
                continue
            run = self.runs.get(payload.pipeline_id)
            if run is not None:
                run.queue.append(payload.data)
        self.cond.notify_all()

    def _process_events(self) -> None:
        while True:
            event = self.pool.next_event()
            if event is None:
                break
            if isinstance(event, psrpcore.CreatePipelineEvent):
                run = self.runs[event.pipeline_id]
                metadata: Any = run.pipeline.metadata or event.pipeline  # psrpcore built it; the property builds anew
                run.commands = list(metadata.commands)
                run.no_input = bool(metadata.no_input)
                run.input_done = run.no_input
                self._start(run)
            elif isinstance(event, psrpcore.GetCommandMetadataEvent):
                run = self.runs[event.pipeline_id]
                compat.mark_running_silently(run.pipeline)
                compat.fail_pipeline(run.pipeline, cmdlets.not_supported_error("GetCommandMetadata"))
                run.finished = True
            elif isinstance(event, psrpcore.PipelineInputEvent):
                target = self.runs.get(event.pipeline_id) if event.pipeline_id else None
                if target is not None:
                    target.input.append(event.data)
            elif isinstance(event, psrpcore.EndOfPipelineInputEvent):
                target = self.runs.get(event.pipeline_id) if event.pipeline_id else None
                if target is not None:
                    target.input_done = True
            elif isinstance(
                event,
                (
                    psrpcore.SetMaxRunspacesEvent,
                    psrpcore.SetMinRunspacesEvent,
                    psrpcore.ResetRunspaceStateEvent,
                ),
            ):
                self.pool.runspace_availability_response(event.ci, True)
            elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
                self.pool.runspace_availability_response(event.ci, max(1, self.pool.max_runspaces))
            # SessionCapability, InitRunspacePool and PublicKey are answered by psrpcore itself.
        self._pump()

    def _start(self, run: _Run) -> None:
        compat.mark_running_silently(run.pipeline)
        run.started = True
        thread = threading.Thread(
            target=self._execute, args=(run,), name=f"lab-pipeline-{str(run.pid)[:8]}", daemon=True
        )
        if self._on_thread is not None:
            self._on_thread(thread)
        thread.start()

    def _execute(self, run: _Run) -> None:
        sink = _Sink(self, run)
        failure: ErrorRecord | None = None
        try:
            # Pipeline input arrives through Send; wait for END_OF_PIPELINE_INPUT.
            with self.cond:
                while not run.input_done and not run.stop_event.is_set() and not self.closed:
                    self.cond.wait(0.5)
                commands = list(run.commands or [])
                pipeline_input = list(run.input)
            if run.stop_event.is_set() or self.closed:
                return
            failure = cmdlets.execute(self.runtime, commands, pipeline_input, sink)
        except cmdlets.PipelineStopped:
            return
        except Exception as exc:
            failure = cmdlets.internal_error(exc)
        with self.cond:
            if run.stop_event.is_set() or run.pipeline.state != PSInvocationState.Running:
                return
            if failure is None:
                run.pipeline.complete()
            else:
                compat.fail_pipeline(run.pipeline, failure)
            run.finished = True
            self._pump()

    def _stop_run(self, run: _Run) -> None:
        run.stop_event.set()
        if run.pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
            run.pipeline.stop()
            run.finished = True
        elif run.pipeline.state == PSInvocationState.NotStarted:
            run.finished = True

    def _drop_run(self, run: _Run) -> None:
        if run.pipeline.state in (PSInvocationState.Running,):
            run.pipeline.stop()
        self._pump()
        run.pipeline.close()
        self.runs.pop(run.pid, None)


class _Sink(cmdlets.Sink):
    """Writes one pipeline's streams through the shell lock."""

    def __init__(self, shell: LabShell, run: _Run) -> None:
        self._shell = shell
        self._run = run

    @property
    def stopped(self) -> bool:
        return self._run.stop_event.is_set() or self._shell.closed

    def _write(self, fn: Callable[[], None]) -> None:
        with self._shell.cond:
            if self.stopped or self._run.pipeline.state != PSInvocationState.Running:
                raise cmdlets.PipelineStopped()
            fn()
            self._shell._pump()

    def output(self, value: Any) -> None:
        self._write(lambda: self._run.pipeline.write_output(value))

    def error(self, record: ErrorRecord) -> None:
        def write() -> None:
            self._run.pipeline.prepare_message(record, message_type=psrpcore.types.PSRPMessageType.ErrorRecord)

        self._write(write)

    def warning(self, message: str) -> None:
        self._write(lambda: self._run.pipeline.write_warning(message))

    def verbose(self, message: str) -> None:
        self._write(lambda: self._run.pipeline.write_verbose(message))

    def debug(self, message: str) -> None:
        self._write(lambda: self._run.pipeline.write_debug(message))

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if self._run.stop_event.wait(min(remaining, 0.2)) or self._shell.closed or self._shell._stopping.is_set():
                raise cmdlets.PipelineStopped()

    def hang(self) -> None:
        with self._shell.cond:
            self._run.hang = True
            self._shell.cond.notify_all()
        while not (self._run.stop_event.wait(0.2) or self._shell.closed or self._shell._stopping.is_set()):
            pass
        raise cmdlets.PipelineStopped()
