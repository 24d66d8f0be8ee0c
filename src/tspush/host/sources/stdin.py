"""Lines piped into the agent (``put`` or ``metric value`` lines), gathered each interval.

A reader thread queues points as lines arrive; ``read`` drains the queue.
The queue is bounded: when it is full the reader stops reading, so a fast
producer waits on the pipe instead of filling memory (nothing is dropped).
A bad line is logged with its reason and skipped; the rest keep flowing.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from typing import TextIO

from tspush.core.errors import PointError
from tspush.core.lines import parse_line
from tspush.core.point import Point
from tspush.host.sources.base import Source

log = logging.getLogger("tspush.agent")

MAX_QUEUED_POINTS = 100_000


class StdinSource(Source):
    kind = "stdin"
    about = "lines piped into the agent (`put` or `metric value`); interval_s defaults to 1"

    def __init__(
        self,
        name: str | None = None,
        interval_s: float = 1.0,
        tags: dict[str, str] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(name, interval_s, tags)
        self.stream = stream if stream is not None else sys.stdin
        self.queue: queue.Queue[Point] = queue.Queue(maxsize=MAX_QUEUED_POINTS)
        self.bad_lines = 0
        self.eof = False
        self._thread = threading.Thread(target=self._pump, name="tspush-stdin", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self.stream:
            try:
                p = parse_line(line, now_s=int(time.time()))
            except PointError as e:
                self.bad_lines += 1
                log.warning("source %s: skipped line: %s", self.name, e)
                continue
            if p is not None:
                self.queue.put(p)
        self.eof = True

    def sample(self, now_s: int) -> list[Point]:
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out
