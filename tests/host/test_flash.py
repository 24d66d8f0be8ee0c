"""``tspush flash``: command lines and refusals, checked without a board."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tspush.cli.flash import esptool_args

Run = Callable[..., subprocess.CompletedProcess[str]]


def image(
    tmp_path: Path, first: bytes = b"\xe9", size: int = 700_000, name: str = "fw.bin"
) -> Path:
    p = tmp_path / name
    p.write_bytes(first + b"\xff" * (size - 1))
    return p


def test_command_lines_erase_then_write_at_the_chip_offset(tmp_path: Path) -> None:
    fw = image(tmp_path)
    erase, write = esptool_args("/dev/ttyUSB0", fw, "esp8266", 460800, major=5)
    base = [
        sys.executable,
        "-m",
        "esptool",
        "--chip",
        "esp8266",
        "--port",
        "/dev/ttyUSB0",
        "--baud",
        "460800",
    ]
    assert erase == [*base, "erase-flash"]
    assert write == [*base, "write-flash", "--flash-size", "detect", "0x0", str(fw)]
    _, w32 = esptool_args("COM3", fw, "esp32", 115200, major=5)
    assert w32[-2:] == ["0x1000", str(fw)] and "--flash-size" not in w32
    e4, w4 = esptool_args("/dev/ttyUSB0", fw, "esp8266", 460800, major=4)
    assert e4[-1] == "erase_flash" and "write_flash" in w4 and "--flash_size" in w4


def test_the_installed_esptool_accepts_the_command_line(tmp_path: Path) -> None:
    fw = image(tmp_path)
    subcommands = ("erase-flash", "write-flash", "erase_flash", "write_flash")
    for args in esptool_args("/dev/ttyUSB0", fw, "esp8266", 460800):
        i = next(i for i, a in enumerate(args) if a in subcommands)
        r = subprocess.run([*args[: i + 1], "--help"], capture_output=True, text=True)
        text = r.stdout + r.stderr
        assert r.returncode == 0 and "Usage" in text, text
        if "write" in args[i]:
            assert "--flash-size" in text or "--flash_size" in text


def test_refusals_say_what_to_do(tmp_path: Path, tspush: Run) -> None:
    r = tspush("flash", "--port", "/dev/null", "--firmware", str(tmp_path / "none.bin"))
    assert r.returncode == 1 and "not found" in r.stderr and "micropython.org/download" in r.stderr
    # the D1 mini needs the ROMFS variant: the message names its file and page
    assert "ESP8266_GENERIC-FLASH_2M_ROMFS-*.bin" in r.stderr
    assert "micropython.org/download/ESP8266_GENERIC/" in r.stderr
    r = tspush(
        "flash", "--port", "/dev/null", "--chip", "esp32", "--firmware", str(tmp_path / "x.bin")
    )
    assert "ESP32_GENERIC-*.bin" in r.stderr and "ROMFS" not in r.stderr
    r = tspush("flash", "--port", "/dev/null", "--firmware", str(image(tmp_path, size=1000)))
    assert "not a MicroPython image" in r.stderr
    r = tspush(
        "flash",
        "--port",
        "/dev/null",
        "--firmware",
        str(image(tmp_path, first=b"\x7f", name="fw.elf")),
    )
    assert "0xE9" in r.stderr
    r = tspush(
        "flash", "--port", "/dev/null", "--firmware", str(image(tmp_path, name="RPI_PICO_W.uf2"))
    )
    assert "BOOTSEL" in r.stderr


def test_no_board_on_the_port_fails_with_advice(tmp_path: Path, tspush: Run) -> None:
    r = tspush(
        "flash",
        "--port",
        str(tmp_path / "ttyNONE"),
        "--firmware",
        str(image(tmp_path)),
        "--baud",
        "115200",
        timeout_s=120,
    )
    assert r.returncode == 1
    assert "esptool erase failed" in r.stderr and "BOOT" in r.stderr
    assert "does not look like the ROMFS variant" in r.stdout  # fw.bin: warned, not refused
