"""Graceful shutdown: SIGTERM starts a drain, and the server stops once it is over.

A load balancer (a Kubernetes Service, haproxy) learns that a replica is going away from its
readiness check, some time after the replica received SIGTERM. Stopping at once would refuse
the requests sent in that time, so `tokensmith serve` drains first:

1. On SIGTERM, at once: `/readyz` answers 503 `draining`, and every answer carries
   `Connection: close`, so that clients holding a keep-alive connection to this replica open a
   new one, which the load balancer sends elsewhere. Requests are served as usual.
2. After `seconds` (`serve --drain-seconds`, default 5), the signal goes on to uvicorn, whose
   shutdown stops accepting connections, closes the idle ones, waits for the requests in flight
   (a body still arriving included: `runtime.body` refuses one that has not arrived 10 s after
   its read began), then ends the app's lifespan, which flushes the access log and counts the
   pending metrics, and prints what this process answered.
3. The process exits 0.

Only SIGTERM drains: SIGINT (Ctrl-C at a terminal) stops at once, as uvicorn does, still
finishing the requests in flight. A second SIGTERM while draining changes nothing (the drain is
the point); the kubelet's SIGKILL after the grace period is the backstop.

The handler is installed by the app's lifespan, in the server's event loop, when uvicorn has
put its own in place: `Drain.install` takes SIGTERM over and keeps uvicorn's handler to hand
the signal to. An app built without a drain (tests, benchmarks, embedding) handles no signal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

#: `serve --drain-seconds` by default: a few readiness periods of a load balancer.
DRAIN_SECONDS = 5.0

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Drain:
    """The drain of one server process: whether it has begun, and what to tell when it does."""

    def __init__(self, seconds: float | None) -> None:
        #: None: handle no signal (an app embedded in something else)
        self.seconds = seconds
        self.draining = False
        self._listeners: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: _Handler = None

    def on_begin(self, listener: Callable[[], None]) -> None:
        """Call `listener()` when the drain begins (on the event loop's thread)."""
        self._listeners.append(listener)

    def install(self) -> None:
        """Take SIGTERM over (from the running event loop, after the server set its handlers).
        Nothing happens without `seconds`, or outside the main thread, where signals cannot
        be handled."""
        if self.seconds is None or threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        """Give SIGTERM back to the server's handler (at the end of the lifespan)."""
        if self._loop is not None and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)
        self._loop = None

    def begin(self) -> None:
        """Begin draining: readiness fails and answers close their connections from now on."""
        self.draining = True
        for listener in self._listeners:
            listener()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # a Python signal handler runs on the main thread between two bytecodes, which may be
        # in the middle of the event loop's own code: only set the flag here (so that
        # readiness fails at once) and let the loop do the rest
        loop = self._loop
        if self.draining or loop is None:
            return
        self.draining = True
        loop.call_soon_threadsafe(self._drain, signum)

    def _drain(self, signum: int) -> None:
        """On the event loop, right after SIGTERM: tell the listeners, stop after `seconds`."""
        if self._loop is None or self.seconds is None:
            return
        self.begin()
        say(f"SIGTERM: draining for {self.seconds:g} s (/readyz answers 503), then stopping")
        self._loop.call_later(self.seconds, self._stop, signum)

    def _stop(self, signum: int) -> None:
        """The drain is over: hand the signal to the server, whose shutdown comes next."""
        if self._loop is None:  # the server is already stopping (e.g. after Ctrl-C)
            return
        signal.signal(signal.SIGTERM, self._previous)
        self._loop = None
        signal.raise_signal(signum)


def say(text: str) -> None:
    """One line about this server process on standard error."""
    print(f"tokensmith serve[{os.getpid()}]: {text}", file=sys.stderr, flush=True)
