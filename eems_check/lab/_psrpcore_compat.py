"""The one place where the lab calls psrpcore private API: ``ServerPipeline._change_state`` (psrpcore 0.3.x).

psrpcore 0.3.1 has no public way to
* mark a server pipeline Running *without* queuing PIPELINE_STATE=Running (Windows PowerShell 5.1 never
  sends that message, and a real server is what the lab imitates), nor
* end a pipeline **Failed** with an ErrorRecord (only ``complete()`` and ``stop()`` exist).

Both need the private state change. The version is checked on import: with another psrpcore the lab refuses to
start rather than misbehave. Nothing else in the lab may call private psrpcore members.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import psrpcore
from psrpcore.types import ErrorRecord, PSInvocationState

__all__ = ["fail_pipeline", "mark_running_silently"]

try:
    _VERSION = version("psrpcore")
except PackageNotFoundError:  # pragma: no cover - vendored/unusual installs
    _VERSION = "0.3"
if not _VERSION.startswith("0.3."):  # pragma: no cover - guards an unpinned upgrade
    raise ImportError(f"eems_check.lab needs psrpcore 0.3.x, found {_VERSION}")


def mark_running_silently(pipeline: psrpcore.ServerPipeline) -> None:
    """NotStarted -> Running without queuing a PIPELINE_STATE message (as PowerShell 5.1 does)."""
    pipeline._change_state(PSInvocationState.Running, emit=False)


def fail_pipeline(pipeline: psrpcore.ServerPipeline, error: ErrorRecord) -> None:
    """Running -> Failed, queuing PIPELINE_STATE=Failed carrying ``error`` as ExceptionAsErrorRecord."""
    pipeline._change_state(PSInvocationState.Failed, error=error)
