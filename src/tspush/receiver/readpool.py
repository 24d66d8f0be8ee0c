"""Read work (queries, lookups) in worker threads, each request within a time budget.

Writes are served on the event loop; a query holding it would hold every
board's write with it. So every read route runs its work here: in a few
threads of their own (queries cannot take the threads the relay uses), with
a deadline checked at each call into the store, and an answer (413, or 503
when the workers are all busy) as soon as the budget is spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from tspush.receiver.errors import ApiError
from tspush.receiver.store import Store

T = TypeVar("T")


class BudgetSpent(ApiError):
    """The query ran past its time budget (raised in the worker, at a store call)."""


class BudgetedStore:
    """The store, refusing further calls once the request's deadline has passed."""

    def __init__(self, store: Store, deadline: float, budget_s: float) -> None:
        self._store = store
        self._deadline = deadline
        self._budget_s = budget_s

    def __getattr__(self, name: str) -> Any:
        if time.monotonic() > self._deadline:
            raise _spent(self._budget_s)
        return getattr(self._store, name)


def _spent(budget_s: float) -> ApiError:
    return BudgetSpent(
        413,
        "Query took longer than %gs, the receiver's limit" % budget_s,
        "ask for a shorter time range, fewer series (filters) or a longer downsample "
        "interval (or raise --query-timeout)",
    )


class ReadPool:
    """At most ``threads`` read requests at once, each stopped after ``budget_s``."""

    def __init__(self, store: Store, threads: int = 2, budget_s: float = 10.0) -> None:
        self.store = store
        self.budget_s = budget_s
        self._limiter = anyio.CapacityLimiter(threads)
        self.running = 0  # read requests in a worker now (the warm-up yields to them)
        self._count_lock = threading.Lock()  # += from several threads can lose an update

    async def run(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` in a worker; ApiError 413/503 when it would take too long."""
        deadline = time.monotonic() + self.budget_s
        started: list[bool] = []

        def work() -> T:
            started.append(True)
            budgeted: Any = BudgetedStore(self.store, deadline, self.budget_s)
            with self._count_lock:
                self.running += 1
            try:
                return fn(budgeted)
            finally:
                with self._count_lock:
                    self.running -= 1

        try:
            with anyio.fail_after(self.budget_s):
                return await anyio.to_thread.run_sync(
                    work, limiter=self._limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            if started:
                raise _spent(self.budget_s) from None
            raise ApiError(
                503,
                "The receiver is busy with other queries",
                "every query worker was busy for %gs; retry later" % self.budget_s,
                retry_after_s=5,
            ) from None
