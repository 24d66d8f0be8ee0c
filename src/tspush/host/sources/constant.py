"""The original board's reading: ``universe = 42``, every interval. Useful to test a path."""

from __future__ import annotations

from tspush.core.point import Point
from tspush.host.options import Option
from tspush.host.sources.base import Source


class ConstantSource(Source):
    kind = "constant"
    about = "the original board's `universe = 42`"
    OPTIONS = (
        Option("metric", "str", "universe", "metric name"),
        Option("value", "number", 42, "the value sent every interval"),
    )

    def __init__(
        self,
        metric: str = "universe",
        value: int | float = 42,
        name: str | None = None,
        interval_s: float = 10.0,
        tags: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name, interval_s, tags)
        self.metric = metric
        self.value = value

    def sample(self, now_s: int) -> list[Point]:
        return [Point(self.metric, self.value, now_s, {})]
