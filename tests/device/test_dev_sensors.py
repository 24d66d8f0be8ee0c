"""Each sensor reads through the hardware shims; failures say what to check."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import struct

import dht
import ds18x20
import machine

from mpcompat import raises
from tspush.core.errors import ConfigError, TspushError
from tspush.device import sensors
from tspush.device.sensors.bme280 import Calibration, compensate

T = (27504, 26435, -1000)
P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
H = (75, 362, 0, 313, 50, 30)


def bme280_registers(adc_t, adc_p, adc_h):
    regs = {0xD0: 0x60, 0xF3: 0}
    a = struct.pack("<HhhHhhhhhhhh", *(T + P))
    for i in range(len(a)):
        regs[0x88 + i] = a[i]
    regs[0xA1] = H[0]
    h2 = struct.pack("<h", H[1])
    regs[0xE1], regs[0xE2] = h2[0], h2[1]
    regs[0xE3] = H[2]
    regs[0xE4] = (H[3] >> 4) & 0xFF
    regs[0xE5] = (H[3] & 0x0F) | ((H[4] & 0x0F) << 4)
    regs[0xE6] = (H[4] >> 4) & 0xFF
    regs[0xE7] = H[5] & 0xFF
    data = [
        adc_p >> 12,
        (adc_p >> 4) & 0xFF,
        (adc_p & 0x0F) << 4,
        adc_t >> 12,
        (adc_t >> 4) & 0xFF,
        (adc_t & 0x0F) << 4,
        adc_h >> 8,
        adc_h & 0xFF,
    ]
    for i in range(8):
        regs[0xF7 + i] = data[i]
    return regs


def datasheet_floats(adc_t, adc_p, adc_h):
    """The datasheet's double-precision formulas: an independent reference."""
    t1, t2, t3 = T
    v1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
    v2 = ((adc_t / 131072.0 - t1 / 8192.0) ** 2) * t3
    t_fine = v1 + v2
    temp = t_fine / 5120.0
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = P
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * p6 / 32768.0
    v2 = v2 + v1 * p5 * 2.0
    v2 = v2 / 4.0 + p4 * 65536.0
    v1 = (p3 * v1 * v1 / 524288.0 + p2 * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * p1
    p = 1048576.0 - adc_p
    p = (p - v2 / 4096.0) * 6250.0 / v1
    p = p + (p9 * p * p / 2147483648.0 + p * p8 / 32768.0 + p7) / 16.0
    h1, h2, h3, h4, h5, h6 = H
    h = t_fine - 76800.0
    h = (adc_h - (h4 * 64.0 + h5 / 16384.0 * h)) * (
        h2 / 65536.0 * (1.0 + h6 / 67108864.0 * h * (1.0 + h3 / 67108864.0 * h))
    )
    h = h * (1.0 - h1 * h / 524288.0)
    return temp, p / 100.0, max(0.0, min(100.0, h))


def test_bme280_matches_the_datasheet_formulas():
    adc = (519888, 415148, 30000)
    machine.state["i2c"][0x76] = bme280_registers(*adc)
    s = sensors.make({"type": "bme280", "sda": 4, "scl": 5})
    got = dict(s.read())
    t, p, h = datasheet_floats(*adc)
    assert abs(got["bme280.temperature_c"] - 25.08) < 0.01
    assert abs(got["bme280.temperature_c"] - t) < 0.02
    assert abs(got["bme280.pressure_hpa"] - p) < 0.02, (got, p)
    assert abs(got["bme280.humidity_pct"] - h) < 0.2, (got, h)
    # forced mode, x1 oversampling, was asked for
    assert machine.state["i2c"][0x76][0xF4] == 0x25


def test_bme280_missing_says_what_to_check():
    machine.state["i2c"].pop(0x77, None)
    s = sensors.make({"type": "bme280", "address": 0x77})
    e = raises(TspushError, s.read)
    assert "0x77" in str(e) and "SDA/SCL" in str(e)


def test_bme280_integer_compensation_alone():
    a = struct.pack("<HhhHhhhhhhhh", *(T + P)) + b"\x00" + bytes([H[0]])
    b = struct.pack("<hB", H[1], H[2]) + bytes(
        [H[3] >> 4, (H[3] & 15) | ((H[4] & 15) << 4), H[4] >> 4, H[5]]
    )
    t, p, h = compensate(Calibration(a, b), 519888, 415148, 30000)
    assert t == 2508
    assert abs(p / 256 - 100653.27) < 1.5


def test_constant_is_the_original_universe():
    assert sensors.make({"type": "constant"}).read() == [("universe", 42)]


def test_analog_a0_is_raw_over_10_like_the_original():
    machine.state["adc"][0] = 517
    assert sensors.make({"type": "analog"}).read() == [("A0", 51)]
    machine.state["adc"][2] = 1000
    s = sensors.make(
        {"type": "analog", "pin": 2, "metric": "battery_v", "scale": 0.005, "offset": 0.1}
    )
    assert abs(s.read()[0][1] - 5.1) < 1e-9


def test_analog_unreadable_pin():
    s = sensors.make({"type": "analog", "pin": 9})
    e = raises(TspushError, s.read)
    assert "analog pin 9" in str(e)


def test_dht22_reads_and_fails_with_advice():
    s = sensors.make({"type": "dht", "pin": 4})
    dht.state["fail"] = False
    assert s.read() == [("dht.temperature_c", 21.5), ("dht.humidity_pct", 40.2)]
    dht.state["fail"] = True
    try:
        e = raises(TspushError, s.read)
    finally:
        dht.state["fail"] = False
    assert "DHT22 on pin 4" in str(e) and "pull-up" in str(e)


def test_ds18b20_tags_each_thermometer():
    s = sensors.make({"type": "ds18b20", "pin": 5})
    assert s.read() == [("ds18b20.temperature_c", 19.25, {"rom": "2801020304050607"})]
    saved = dict(ds18x20.state["roms"])
    ds18x20.state["roms"].clear()
    try:
        e = raises(TspushError, sensors.make({"type": "ds18b20", "pin": 6}).read)
    finally:
        ds18x20.state["roms"].update(saved)
    assert "no thermometer found" in str(e)


def test_internal_readings():
    class W:
        def rssi(self):
            return -70

    class App:  # the app makes its Wi-Fi at the first push: no signal before
        wifi = None

    app = App()
    s = sensors.make({"type": "internal"}, {"app": app})
    assert "board.rssi_dbm" not in dict((r[0], r[1]) for r in s.read())
    app.wifi = W()
    got = dict((r[0], r[1]) for r in s.read())
    assert got["board.rssi_dbm"] == -70
    assert got["board.reset_cause"] == 1
    assert got["board.uptime_s"] >= 0


def test_build_leaves_out_what_cannot_be_set_up():
    got, problems = sensors.build(
        [{"type": "constant"}, {"type": "thermocouple"}, {"type": "dht", "model": 12}]
    )
    assert len(got) == 1
    assert "thermocouple" in problems[0] and "use one of" in problems[0]
    assert "model 12" in problems[1]
    raises(ConfigError, sensors.make, {"type": "nope"})
