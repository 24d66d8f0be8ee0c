"""Readings of the computer itself through psutil; a reading the OS lacks is skipped.

Metrics (prefix configurable, default ``sys``): ``cpu.percent``, ``load.1m``/
``5m``/``15m``, ``mem.used_percent``, ``mem.available_bytes``,
``disk.used_percent`` and ``disk.free_bytes`` per path, ``net.sent_bytes`` and
``net.recv_bytes`` (counters), ``temp.celsius`` per sensor, ``uptime_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import psutil

from tspush.core.point import Point
from tspush.host.options import Option
from tspush.host.sources.base import Source, clean_tag

log = logging.getLogger("tspush.agent")


class SystemSource(Source):
    kind = "system"
    about = (
        "psutil: `cpu.percent`, `load.1m/5m/15m`, `mem.used_percent`, "
        "`mem.available_bytes`, `disk.used_percent`/`free_bytes{path}`, "
        "`net.sent_bytes`/`recv_bytes`, `uptime_s`, `temp.celsius{sensor}`"
    )
    OPTIONS = (
        Option("prefix", "str", "sys", "metric names: sys.cpu.percent, sys.mem.used_percent, ..."),
        Option("disks", "strlist", ["/"], "disk.used_percent / disk.free_bytes for each path"),
        Option("temperatures", "bool", True, "temp.celsius{sensor=...} where the OS has them"),
    )

    def __init__(
        self,
        name: str | None = None,
        interval_s: float = 10.0,
        tags: dict[str, str] | None = None,
        prefix: str = "sys",
        disks: list[str] | None = None,
        temperatures: bool = True,
    ) -> None:
        super().__init__(name, interval_s, tags)
        self.prefix = prefix
        self.disks = list(disks) if disks is not None else ["/"]
        self.temperatures = temperatures
        try:
            psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        except Exception:  # noqa: BLE001 - a missing reading is skipped, never fatal
            pass

    def sample(self, now_s: int) -> list[Point]:
        out: list[Point] = []
        pre = self.prefix + "." if self.prefix else ""

        def add(metric: str, fn: Callable[[], float | int | None], **tags: str) -> None:
            try:
                v = fn()
            except Exception as e:  # noqa: BLE001 - skip what this OS cannot read
                log.debug("system source: %s unavailable: %s", metric, e)
                return
            if v is None:
                return
            if isinstance(v, float) and v != v:
                return
            out.append(Point(pre + metric, v, now_s, dict(tags)))

        add("cpu.percent", lambda: float(psutil.cpu_percent(interval=None)))
        add("load.1m", lambda: float(psutil.getloadavg()[0]))
        add("load.5m", lambda: float(psutil.getloadavg()[1]))
        add("load.15m", lambda: float(psutil.getloadavg()[2]))
        add("mem.used_percent", lambda: float(psutil.virtual_memory().percent))
        add("mem.available_bytes", lambda: int(psutil.virtual_memory().available))
        for path in self.disks:
            tag = clean_tag(path)
            add("disk.used_percent", partial(_disk_used_percent, path), path=tag)
            add("disk.free_bytes", partial(_disk_free_bytes, path), path=tag)
        add("net.sent_bytes", lambda: int(psutil.net_io_counters().bytes_sent))
        add("net.recv_bytes", lambda: int(psutil.net_io_counters().bytes_recv))
        add("uptime_s", lambda: int(time.time() - psutil.boot_time()))
        if self.temperatures:
            self._temperatures(out, pre, now_s)
        return out

    def _temperatures(self, out: list[Point], pre: str, now_s: int) -> None:
        reader = getattr(psutil, "sensors_temperatures", None)
        if reader is None:
            return
        try:
            groups = reader()
        except Exception:  # noqa: BLE001
            return
        for chip, entries in sorted(groups.items()):
            for i, e in enumerate(entries):
                label = e.label or str(i)
                if e.current is None:
                    continue
                out.append(
                    Point(
                        pre + "temp.celsius",
                        float(e.current),
                        now_s,
                        {"sensor": clean_tag(f"{chip}.{label}")},
                    )
                )


def _disk_used_percent(path: str) -> float:
    return float(psutil.disk_usage(path).percent)


def _disk_free_bytes(path: str) -> int:
    return int(psutil.disk_usage(path).free)
