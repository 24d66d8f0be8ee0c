"""Read work (queries, lookups) in worker threads, each request within a time budget.

Writes are served on the event loop; a query holding it would hold every
board's write with it. So every read route runs its work here: in a few
threads of their own (queries cannot take the threads the relay uses), with
a deadline checked at each call into the store, and an answer (413, or 503
when the workers are all busy) as soon as the budget is spent.

The hand-off is plain asyncio (a semaphore, a future settled from the
thread, ``asyncio.timeout``): a small query's whole work is a fraction of a
millisecond, and a general-purpose thread hop with cancel scopes cost more
than the query. Threads are daemons, started when none is idle: a worker
left behind by a spent budget (it stops at its next store call) never
holds up the next request, nor the process's exit.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tspush.receiver.errors import ApiError
from tspush.receiver.store import Store

T = TypeVar("T")
Job = tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


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


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the request gave up (budget spent, client gone)
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(error)


class ReadPool:
    """At most ``threads`` read requests at once, each stopped after ``budget_s``."""

    def __init__(self, store: Store, threads: int = 2, budget_s: float = 10.0) -> None:
        self.store = store
        self.budget_s = budget_s
        self.threads = threads
        self.running = 0  # read requests in a worker now (the warm-up yields to them)
        self._count_lock = threading.Lock()  # += from several threads can lose an update
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._idle = 0  # workers waiting for a job
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    async def run(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` in a worker; ApiError 413/503 when it would take too long."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.budget_s
        started: list[bool] = []

        def work() -> T:
            started.append(True)
            return self._call(fn, deadline)

        slots = self._slots_for(loop)
        try:
            async with asyncio.timeout(self.budget_s):
                await slots.acquire()  # no wait at all while a slot is free
                try:
                    fut: asyncio.Future[T] = loop.create_future()
                    self._submit((work, fut, loop))
                    return await fut
                finally:
                    slots.release()  # also when abandoned: the worker stops at its next call
        except TimeoutError:
            if started:
                raise _spent(self.budget_s) from None
            raise ApiError(
                503,
                "The receiver is busy with other queries",
                "every query worker was busy for %gs; retry later" % self.budget_s,
                retry_after_s=5,
            ) from None

    def run_here(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` on the calling thread, same budget: for work known to be small
        (``query.small``), where the hop to a worker would cost more than the work."""
        return self._call(fn, time.monotonic() + self.budget_s)

    def _call(self, fn: Callable[[Store], T], deadline: float) -> T:
        """``fn`` on a store that refuses calls past ``deadline``, counted in ``running``."""
        budgeted: Any = BudgetedStore(self.store, deadline, self.budget_s)
        with self._count_lock:
            self.running += 1
        try:
            return fn(budgeted)
        finally:
            with self._count_lock:
                self.running -= 1

    def _slots_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        """The semaphore of this loop (a semaphore belongs to the loop it first waited in)."""
        if self._slots is None or self._slots_loop is not loop:
            self._slots = asyncio.Semaphore(self.threads)
            self._slots_loop = loop
        return self._slots

    def _submit(self, job: Job) -> None:
        with self._count_lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._serve, name="tspush-read", daemon=True).start()

    def _serve(self) -> None:
        while True:
            work, fut, loop = self._jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                result = work()
            except BaseException as e:  # handed to the request, raised there
                error = e
            try:
                loop.call_soon_threadsafe(_settle, fut, result, error)
            except RuntimeError:  # that loop is closed: nobody waits for the answer
                pass
            del work, fut, loop, result, error  # hold nothing while idle
            with self._count_lock:
                self._idle += 1
