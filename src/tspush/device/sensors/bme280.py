"""BME280 over I2C: temperature, pressure, humidity. A small driver of our own.

One forced measurement per read (the chip sleeps in between), oversampling
x1, integer compensation as the Bosch datasheet (section 4.2.3) specifies,
so the ESP8266's short floats play no part until the final division.
"""

import struct

from tspush.device.sensors import fail

CHIP_ID = 0x60
BMP280_ID = 0x58
REG_ID = 0xD0
REG_CALIB_A = 0x88  # 26 bytes: T1..T3, P1..P9, (0xA0 unused), H1
REG_CALIB_B = 0xE1  # 7 bytes: H2..H6
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_DATA = 0xF7  # 8 bytes: press[3] temp[3] hum[2]
FORCED_X1 = (1 << 5) | (1 << 2) | 1


def _tdiv(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class Calibration:
    __slots__ = ("t", "p", "h")

    def __init__(self, a, b):
        v = struct.unpack("<HhhHhhhhhhhh", a[:24])
        self.t = v[0:3]
        self.p = v[3:12]
        e4, e5, e6 = b[3], b[4], b[5]
        h4 = (e4 << 4) | (e5 & 0x0F)
        h5 = (e6 << 4) | (e5 >> 4)
        if h4 > 2047:
            h4 -= 4096
        if h5 > 2047:
            h5 -= 4096
        h2 = struct.unpack("<h", b[0:2])[0]
        h6 = b[6] - 256 if b[6] > 127 else b[6]
        self.h = (a[25], h2, b[2], h4, h5, h6)


def compensate(cal, adc_t, adc_p, adc_h):
    """``(temp_centi_c, pressure_q24_8_pa, humidity_q22_10_pct)`` as the datasheet's ints."""
    t1, t2, t3 = cal.t
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    d = (adc_t >> 4) - t1
    var2 = (((d * d) >> 12) * t3) >> 14
    t_fine = var1 + var2
    temp = (t_fine * 5 + 128) >> 8

    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal.p
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        press = 0
    else:
        p = 1048576 - adc_p
        p = _tdiv(((p << 31) - var2) * 3125, var1)
        var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
        var2 = (p8 * p) >> 19
        press = ((p + var1 + var2) >> 8) + (p7 << 4)

    h1, h2, h3, h4, h5, h6 = cal.h
    v = t_fine - 76800
    v = (((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15
    v = v * (
        (
            (
                (
                    ((((t_fine - 76800) * h6) >> 10) * ((((t_fine - 76800) * h3) >> 11) + 32768))
                    >> 10
                )
                + 2097152
            )
            * h2
            + 8192
        )
        >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    if v < 0:
        v = 0
    if v > 419430400:
        v = 419430400
    return temp, press, v >> 12


class BME280:
    def __init__(self, spec, ctx):
        import machine

        self.addr = spec.get("address", 0x76)
        self.prefix = spec.get("metric", "bme280")
        sda = spec.get("sda", 4)
        scl = spec.get("scl", 5)
        self.name = "BME280 at 0x%02x (sda %s, scl %s)" % (self.addr, sda, scl)
        i2c = ctx.get("i2c")
        if i2c is None:
            cls = getattr(machine, "SoftI2C", None) or machine.I2C
            i2c = cls(scl=machine.Pin(scl), sda=machine.Pin(sda))
        self.i2c = i2c
        self.cal = None

    def _setup(self):
        chip = self.i2c.readfrom_mem(self.addr, REG_ID, 1)[0]
        if chip == BMP280_ID:
            raise fail(self.name, "this is a BMP280 (no humidity)", "use a BME280")
        if chip != CHIP_ID:
            raise fail(self.name, "chip id 0x%02x is not a BME280" % chip, "check the address")
        a = self.i2c.readfrom_mem(self.addr, REG_CALIB_A, 26)
        b = self.i2c.readfrom_mem(self.addr, REG_CALIB_B, 7)
        self.cal = Calibration(a, b)

    def read(self):
        from tspush.device import ticks

        try:
            if self.cal is None:
                self._setup()
            self.i2c.writeto_mem(self.addr, REG_CTRL_HUM, b"\x01")
            self.i2c.writeto_mem(self.addr, REG_CTRL_MEAS, bytes([FORCED_X1]))
            for _ in range(20):
                ticks.sleep_ms(5)
                if not self.i2c.readfrom_mem(self.addr, REG_STATUS, 1)[0] & 0x08:
                    break
            d = self.i2c.readfrom_mem(self.addr, REG_DATA, 8)
        except OSError as e:
            self.cal = None
            raise fail(
                self.name,
                "no answer on I2C (%s)" % e,
                "check SDA/SCL wiring, 3.3 V power and the address (0x76 or 0x77)",
            )
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        t, p, h = compensate(self.cal, adc_t, adc_p, adc_h)
        return [
            (self.prefix + ".temperature_c", t / 100),
            (self.prefix + ".pressure_hpa", p / 25600),
            (self.prefix + ".humidity_pct", h / 1024),
        ]
