"""A real VictoriaMetrics (Debian's ``victoria-metrics``) for read-back tests.

VictoriaMetrics answers 204 even for rows it drops, so tests never trust the
status: they call ``flush()`` and read rows back with ``export()``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from support.ports import free_port, stop_process, wait_port

BINARY = "victoria-metrics"


def available() -> bool:
    return shutil.which(BINARY) is not None


class VictoriaMetrics:
    """One VictoriaMetrics process on free loopback ports; restartable on the same data."""

    def __init__(self, data_dir: Path, extra_args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.http_port = free_port()
        self.opentsdb_port = free_port()
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "vm.log"

    @property
    def url(self) -> str:
        """Main HTTP port: /write (Influx), /api/v1/export, /api/v1/import ..."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def opentsdb_url(self) -> str:
        """The OpenTSDB HTTP listener: POST /api/put."""
        return f"http://127.0.0.1:{self.opentsdb_port}"

    def start(self) -> VictoriaMetrics:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            BINARY,
            f"-storageDataPath={self.data_dir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.http_port}",
            f"-opentsdbHTTPListenAddr=127.0.0.1:{self.opentsdb_port}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_port(self.http_port)
        wait_port(self.opentsdb_port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def flush(self) -> None:
        urllib.request.urlopen(self.url + "/internal/force_flush", timeout=10).read()

    def export(self, match: str = '{__name__!=""}') -> list[dict[str, Any]]:
        """Every stored row matching ``match``, after a flush: one dict per series."""
        self.flush()
        q = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=30) as r:
            text = r.read().decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def samples(
        self, match: str = '{__name__!=""}'
    ) -> list[tuple[str, dict[str, str], int, float]]:
        """Flattened, sorted ``(metric, tags, ts_ms, value)`` rows."""
        out = []
        for row in self.export(match):
            tags = dict(row["metric"])
            name = tags.pop("__name__")
            for ts, v in zip(row["timestamps"], row["values"]):
                out.append((name, tags, ts, v))
        out.sort(key=lambda r: (r[0], sorted(r[1].items()), r[2]))
        return out

    def wait_for(self, match: str, count: int, timeout_s: float = 60.0) -> list[Any]:
        """Poll until at least ``count`` samples match (ingestion is asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.samples(match)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)

    def __enter__(self) -> VictoriaMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
