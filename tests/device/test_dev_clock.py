"""Unix time from each port's epoch; readings taken before NTP stamped afterwards."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import ntptime

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


def test_first_sync_of_an_era_keeps_its_offset_for_readings_taken_before():
    t = FakeTime(5)  # RTC seconds since power-on (epoch 1970 here: not set)
    c = Clock(ntptime, time_fn=t, offset_s=0)
    c.era = "e1"
    ntptime.state["fail"] = False
    before = ntptime.state["calls"]
    ntptime.state["then"] = lambda: setattr(t, "t", 1790000100)  # settime() sets the RTC
    try:
        assert c.sync()
    finally:
        ntptime.state.pop("then")
    assert ntptime.state["calls"] == before + 1
    assert c.offsets == {"e1": 1790000100 - 5}
    out, lost = c.stamp([b'@e1 3 {"metric":"a","value":1,"tags":{}}'])
    assert out == [b'{"timestamp":1790000098,"metric":"a","value":1,"tags":{}}'] and lost == []
    t.t += 3600
    c.sync()  # a later sync (drift) keeps the era's first offset
    assert c.offsets == {"e1": 1790000095}
    assert not c.due()


def test_ntp_retried_with_back_off_up_to_ntp_every_s():
    now = [0]
    saved = ticks.ticks_ms
    ticks.ticks_ms = lambda: now[0]
    ntptime.state["fail"] = True
    try:
        c = Clock(ntptime, every_s=60, time_fn=FakeTime(3), offset_s=0)
        waits = []
        for _ in range(6):
            assert c.due()
            c.sync()
            start = now[0]
            while not c.due():
                now[0] += 1000
            waits.append((now[0] - start) // 1000)
        assert waits == [5, 10, 20, 40, 60, 60], waits
    finally:
        ntptime.state["fail"] = False
        ticks.ticks_ms = saved


def test_clock_set_from_a_date_header_through_the_rtc():
    import machine

    machine.reset_state()
    machine.power_on()
    saved = ticks.rtc_ms
    ticks.rtc_ms = machine.rtc_ms
    try:
        c = Clock(None, offset_s=0)
        c.era = "e2"
        assert not c.valid()
        for bad in ("Thu, 03 Dez 2026 21:05:09 GMT", "yesterday", "", None):
            assert not c.set_from_date(bad, None, machine) and not c.valid()
        assert c.set_from_date("Thu, 03 Dec 2026 21:05:09 GMT", None, machine)
        assert c.unix_s() in (1796331909, 1796331910)
        assert c.offsets["e2"] in (1796331909, 1796331910)  # the RTC had counted ~0 s
    finally:
        ticks.rtc_ms = saved


def test_ntp_failure_does_not_raise():
    ntptime.state["fail"] = True
    try:
        c = Clock(ntptime, time_fn=FakeTime(3), offset_s=0)
        assert c.sync() is False
        assert c.failures == 1
    finally:
        ntptime.state["fail"] = False
