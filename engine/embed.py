"""Run coopetition inside an asyncio application, via trio's guest mode.

``start_in_asyncio(fn, *args)`` starts ``fn`` as a trio *guest run* on the running asyncio loop:
the service keeps its own event loop and trio's scheduler runs inside it. The returned
``GuestRun`` has ``result`` (an ``asyncio.Future`` with ``fn``'s return value, or the same typed
exception a trio caller would get) and ``finished`` (resolved once trio has fully stopped: every
task ended, every socket closed). ``cancel()`` cancels the trio side; ``result`` then raises
``asyncio.CancelledError``. One guest run per asyncio loop at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import trio

T = TypeVar("T")


@dataclass
class GuestRun(Generic[T]):
    result: asyncio.Future[T]
    finished: asyncio.Future[None]
    _scope: trio.CancelScope | None = None
    _token: trio.lowlevel.TrioToken | None = None
    _cancel_requested: bool = field(default=False)

    def cancel(self) -> None:
        """Cancel the trio side; a no-op once it has finished."""
        if self.finished.done():
            return
        self._cancel_requested = True
        if self._token is not None and self._scope is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._scope.cancel)


def start_in_asyncio(fn: Callable[..., Awaitable[T]], *args: Any) -> GuestRun[T]:
    loop = asyncio.get_running_loop()
    run: GuestRun[T] = GuestRun(loop.create_future(), loop.create_future())

    async def guest_main() -> T | None:
        with trio.CancelScope() as scope:
            run._scope, run._token = scope, trio.lowlevel.current_trio_token()
            if run._cancel_requested:
                scope.cancel()
            return await fn(*args)
        return None

    def done(outcome: Any) -> None:
        try:
            value = outcome.unwrap()
        except BaseException as exc:  # hand every error, typed, to the asyncio side
            if not run.result.done():
                run.result.set_exception(exc)
        else:
            if run._cancel_requested:
                run.result.cancel()
            elif not run.result.done():
                run.result.set_result(value)
        run.finished.set_result(None)

    trio.lowlevel.start_guest_run(
        guest_main,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=done,
        host_uses_signal_set_wakeup_fd=True,
    )
    return run
