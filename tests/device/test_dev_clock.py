"""Unix time from each port's epoch; readings taken before NTP stamped afterwards."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import ntptime

from tspush.core.point import Point
from tspush.device import ticks
from tspush.device.clock import EPOCH_2000_S, Clock


class FakeTime:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_epoch_2000_ports_give_unix_time():
    t = FakeTime(1790000000 - EPOCH_2000_S)  # what an ESP32 says once NTP set it
    c = Clock(None, time_fn=t, offset_s=EPOCH_2000_S)
    assert c.unix_s() == 1790000000
    assert isinstance(c.unix_s(), int)


def test_unset_clock_is_not_valid():
    c = Clock(None, time_fn=FakeTime(12), offset_s=EPOCH_2000_S)  # 2000-01-01 + 12 s
    assert c.unix_s() is None and not c.valid()


def test_float_time_is_made_int():
    c = Clock(None, time_fn=FakeTime(1790000000.75), offset_s=0)
    assert c.unix_s() == 1790000000


def test_readings_before_sync_are_stamped_with_their_age():
    t = FakeTime(5)
    c = Clock(ntptime, time_fn=t, offset_s=0)
    p_old = Point("a", 1)
    p_new = Point("a", 2)
    now = ticks.ticks_ms()
    read_ms = [ticks.ticks_add(now, -30000), now]
    assert c.stamp([p_old, p_new], read_ms) == 0
    ntptime.state["fail"] = False
    before = ntptime.state["calls"]
    t.t = 1790000100  # settime() "set" the clock
    assert c.sync()
    assert ntptime.state["calls"] == before + 1
    assert c.stamp([p_old, p_new], read_ms) == 2
    assert p_new.ts in (1790000100, 1790000099)
    assert p_old.ts in (1790000070, 1790000069)
    assert not c.due()


def test_ntp_failure_does_not_raise():
    ntptime.state["fail"] = True
    try:
        c = Clock(ntptime, time_fn=FakeTime(3), offset_s=0)
        assert c.sync() is False
        assert c.failures == 1
    finally:
        ntptime.state["fail"] = False
