"""A number read from a file every interval, times ``scale`` plus ``offset``.

Works with ``/sys/class/thermal/thermal_zone0/temp`` (millidegrees: scale
0.001) and with 1-Wire ``w1_slave`` files, whose first line must end in
``YES`` (the sensor's CRC checked) and whose second line carries ``t=21562``.
"""

from __future__ import annotations

from pathlib import Path

from tspush.core.errors import TspushError
from tspush.core.lines import number
from tspush.core.point import Point
from tspush.host.options import Option
from tspush.host.sources.base import Source


def read_number(text: str, path: str) -> int | float:
    """The reading in a file's text; TspushError saying what to check otherwise."""
    if "t=" in text:
        first = text.strip().splitlines()[0] if text.strip() else ""
        if "crc=" in first and not first.rstrip().endswith("YES"):
            raise TspushError(
                f"{path}: the 1-Wire CRC check failed (line 1 does not end in YES): "
                "check the wiring and the 4.7k pull-up resistor"
            )
        raw = text.rsplit("t=", 1)[1].split()[0]
    else:
        words = text.split()
        if not words:
            raise TspushError(f"{path}: the file is empty: check the sensor driver")
        raw = words[0]
    try:
        return number(raw)
    except Exception:
        raise TspushError(f"{path}: {raw!r} is not a number") from None


class FileSource(Source):
    kind = "file"
    about = (
        "a number from a file times `scale` plus `offset`; a 1-Wire `w1_slave` file's "
        "`t=` value, after checking its CRC line says `YES`"
    )
    OPTIONS = (
        Option(
            "path",
            "str",
            None,
            "the file; 1-Wire: t=23125, CRC checked",
            required=True,
            example="/sys/bus/w1/devices/28-000005e2fdc3/w1_slave",
        ),
        Option("metric", "str", None, "metric name", required=True, example="room.temp"),
        Option("scale", "number", 1.0, "the reading is multiplied by this", example=0.001),
        Option("offset", "number", 0.0, "then this is added"),
    )

    def __init__(
        self,
        path: str,
        metric: str,
        scale: float = 1.0,
        offset: float = 0.0,
        name: str | None = None,
        interval_s: float = 10.0,
        tags: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name, interval_s, tags)
        self.path = str(path)
        self.metric = metric
        self.scale = scale
        self.offset = offset

    def sample(self, now_s: int) -> list[Point]:
        try:
            text = Path(self.path).read_text()
        except OSError as e:
            raise TspushError(
                f"source {self.name}: cannot read {self.path}: {e.strerror or e}", e
            ) from None
        raw = read_number(text, self.path)
        if self.scale == 1.0 and self.offset == 0.0:
            value: int | float = raw
        else:
            value = raw * self.scale + self.offset
        return [Point(self.metric, value, now_s, {})]
