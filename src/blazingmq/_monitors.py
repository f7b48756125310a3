"""Host health monitoring."""

from __future__ import annotations

from . import _ext

__all__ = ["BasicHealthMonitor"]


class BasicHealthMonitor:
    """A host health monitor that the program (or a test) sets by hand.

    Pass it as ``Session(..., host_health_monitor=monitor)``.  Initially
    healthy.  While unhealthy, queues opened with
    ``QueueOptions(suspends_on_bad_host_health=True)`` are suspended: posting
    to them raises, and readers receive nothing.  Backed by libbmq's
    ``bmqa::ManualHostHealthMonitor``; thread-safe.
    """

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle = _ext.HealthMonitorHandle()

    def set_healthy(self) -> None:
        """Report the host healthy: suspended queues resume
        (``QueueResumed`` per queue, then ``HostHealthRestored``).

        Thread safety: may be called from any thread.
        """
        self._handle.set_healthy()

    def set_unhealthy(self) -> None:
        """Report the host unhealthy: queues that opted in are suspended
        (``HostUnhealthy``, then ``QueueSuspended`` per queue).

        Thread safety: may be called from any thread.
        """
        self._handle.set_unhealthy()

    def __repr__(self) -> str:
        return "BasicHealthMonitor()"
