"""Every call the agent makes into Windows, in one small module (review it line by line).

- `PecusAgentService`: pywin32's `ServiceFramework` glue. It only forwards the service control
  manager's calls (run, stop, shutdown, power events) to `pecus.agent.service.AgentService`,
  where the logic is, and which the tests run on Linux with a recording host.
- `WindowsHost`: keeping the PC awake (`SetThreadExecutionState`) and the Event Log.
- `interrupt_time_clocks`: the clock pair for resume detection. On Windows Python's monotonic
  clock counts the time asleep, so it cannot tell a suspend; the unbiased interrupt time can.
- `run_as_service`: the frozen executable's dispatch when started without arguments.

pywin32 and `ctypes.windll` are imported inside the functions, so this module imports anywhere;
the constants are the Windows SDK's. The Windows workflow (.github/workflows/agent-windows.yml)
installs, starts and stops the real service.
"""

from __future__ import annotations

import ctypes
import logging
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pecus.agent.daemon import Clocks

log = logging.getLogger(__name__)

SERVICE_NAME = "PecusAgent"
DISPLAY_NAME = "Pecus farm agent"
DESCRIPTION = "Moves new milkings from the farm's DelPro database to the Pecus cloud."

# winsvc.h / pbt.h / winbase.h
SERVICE_CONTROL_POWEREVENT = 0x0000000D
SERVICE_ACCEPT_POWEREVENT = 0x00000040
PBT_APMSUSPEND = 0x0004  # the system is about to sleep or hibernate (about 2 s to react)
PBT_APMRESUMESUSPEND = 0x0007  # resumed, and a user is present (comes after RESUMEAUTOMATIC)
PBT_APMRESUMEAUTOMATIC = 0x0012  # resumed, with or without a user: always sent
ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063

# Event ids; install-agent.ps1 registers the source with the .NET message file that prints
# each event's text as is.
EVENT_IDS = {"info": 1000, "warning": 2000, "error": 3000}
STOP_WAIT_HINT_MS = 30_000

Level = Literal["info", "warning", "error"]


class WindowsHost:
    """What a Windows service offers the agent (see `pecus.agent.service.ServiceHost`)."""

    heartbeat_interval: float | None = None  # the SCM has no watchdog

    def ready(self) -> None:
        """SERVICE_RUNNING is reported by the framework before the loop starts."""

    def heartbeat(self) -> None:
        pass

    def stopping(self) -> None:
        pass

    def keep_awake(self, on: bool) -> None:
        """Hold off idle sleep while a cycle runs. Per thread: the daemon calls it on its loop's
        thread both times. ES_CONTINUOUS alone clears the request."""
        set_state = ctypes.windll.kernel32.SetThreadExecutionState  # type: ignore[attr-defined]
        set_state.argtypes, set_state.restype = [ctypes.c_uint32], ctypes.c_uint32
        flags = ES_CONTINUOUS | (ES_SYSTEM_REQUIRED if on else 0)
        if not set_state(flags):  # the previous state, or 0 on failure
            log.warning("SetThreadExecutionState(%#x) failed", flags)

    def event(self, level: Level, message: str) -> None:
        import win32evtlog
        import win32evtlogutil

        kind = {
            "info": win32evtlog.EVENTLOG_INFORMATION_TYPE,
            "warning": win32evtlog.EVENTLOG_WARNING_TYPE,
            "error": win32evtlog.EVENTLOG_ERROR_TYPE,
        }[level]
        try:
            win32evtlogutil.ReportEvent(SERVICE_NAME, EVENT_IDS[level], eventType=kind, strings=[message])
        except Exception:  # the Event Log is a courtesy; the log file has everything
            log.warning("could not write to the Windows Event Log", exc_info=True)


def interrupt_time_clocks() -> Clocks:
    """GetTickCount64 runs on in sleep and hibernation; QueryUnbiasedInterruptTime does not."""
    from pecus.agent.daemon import Clocks

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    kernel32.GetTickCount64.restype = ctypes.c_ulonglong

    def elapsed() -> float:
        return float(kernel32.GetTickCount64()) / 1e3  # milliseconds

    def awake() -> float:
        value = ctypes.c_ulonglong()
        kernel32.QueryUnbiasedInterruptTime(ctypes.byref(value))
        return value.value / 1e7  # 100 ns units

    return Clocks(elapsed, awake, "GetTickCount64 vs QueryUnbiasedInterruptTime")


def service_class() -> type[Any]:
    """The `ServiceFramework` subclass (made on demand: pywin32 exists only on Windows)."""
    import win32service
    import win32serviceutil

    from pecus.agent.service import AgentService

    class PecusAgentService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.agent = AgentService(WindowsHost())

        def GetAcceptedControls(self) -> int:
            return int(super().GetAcceptedControls()) | SERVICE_ACCEPT_POWEREVENT

        def SvcDoRun(self) -> None:
            # Returns after a stop. An unusable configuration raises: the framework then reports
            # SERVICE_STOPPED with an error, and the recovery actions restart the service.
            self.agent.run()

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_HINT_MS)
            self.agent.stop()

        SvcShutdown = SvcStop  # the PC shuts down: stop the same way

        def SvcOtherEx(self, control: int, event_type: int, data: Any) -> None:
            if control == SERVICE_CONTROL_POWEREVENT:
                self.agent.power_event(event_type)

    return PecusAgentService


def run_as_service() -> bool:
    """Hand this process to the service control manager as the PecusAgent service; returns
    after the service stopped. False when no service control manager started this process (a
    technician ran the executable without arguments): the caller shows the command line."""
    import pywintypes
    import servicemanager

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(service_class())
    try:
        servicemanager.StartServiceCtrlDispatcher()
    except pywintypes.error as exc:
        if exc.winerror == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            return False
        raise
    return True
