"""``tspush flash``: erase an ESP board and write a MicroPython firmware image (esptool).

Two esptool runs: ``erase_flash``, then ``write_flash`` at the address the
chip family needs (ESP8266 and ESP32-S3/C3: 0x0, ESP32: 0x1000). The command
lines are built by ``esptool_args`` so they can be checked without a board.
Pico W boards are flashed by copying the ``.uf2`` file to the RPI-RP2 drive.
``FIRMWARE`` names the image each board needs: for the ESP8266 (Wemos D1
mini) that is the ``FLASH_2M_ROMFS`` variant, whose ROMFS partition the app
runs from (``tspush deploy --romfs``); as files on its filesystem the app
does not fit the ESP8266's heap.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from tspush.core.errors import TspushError

OFFSETS = {"esp8266": "0x0", "esp32": "0x1000", "esp32s3": "0x0", "esp32c3": "0x0"}
DOWNLOAD = "https://micropython.org/download/"
# chip -> (board page, file name pattern, why); MicroPython 1.25 or later (ROMFS).
FIRMWARE = {
    "esp8266": (
        "ESP8266_GENERIC",
        "ESP8266_GENERIC-FLASH_2M_ROMFS-*.bin",
        "the FLASH_2M_ROMFS variant: its ROMFS partition holds the app (a D1 mini has 4 MB)",
    ),
    "esp32": ("ESP32_GENERIC", "ESP32_GENERIC-*.bin", "the standard build"),
    "esp32s3": ("ESP32_GENERIC_S3", "ESP32_GENERIC_S3-*.bin", "the standard build"),
    "esp32c3": ("ESP32_GENERIC_C3", "ESP32_GENERIC_C3-*.bin", "the standard build"),
    "rp2": ("RPI_PICO_W", "RPI_PICO_W-*.uf2", "copied to the RPI-RP2 drive, not flashed"),
}


def firmware_for(chip: str) -> str:
    """Which image to download for ``chip``, in one line."""
    board, pattern, why = FIRMWARE[chip]
    return f"{pattern} from {DOWNLOAD}{board}/ ({why}; MicroPython 1.25 or later)"


def check_firmware(firmware: Path, chip: str) -> None:
    if chip not in OFFSETS:
        raise TspushError(f"chip {chip!r}: use one of {', '.join(OFFSETS)}")
    if firmware.suffix.lower() == ".uf2":
        raise TspushError(
            f"{firmware.name} is a Pico (UF2) image: hold BOOTSEL while plugging the Pico W in, "
            "then copy the file to the RPI-RP2 drive"
        )
    if not firmware.is_file():
        raise TspushError(f"firmware {firmware} not found: download {firmware_for(chip)}")
    if firmware.stat().st_size < 64 * 1024:
        raise TspushError(
            f"{firmware} is only {firmware.stat().st_size} bytes: that is not a MicroPython "
            "image (they are 600 KB or more)"
        )
    with open(firmware, "rb") as f:
        magic = f.read(1)
    if magic != b"\xe9":
        raise TspushError(
            f"{firmware} does not start with the ESP image byte 0xE9: pick the .bin "
            "(not .elf, .hex or .zip) for your board"
        )


def esptool_major() -> int:
    try:
        import esptool

        return int(str(getattr(esptool, "__version__", "5")).split(".")[0])
    except (ImportError, ValueError):
        return 5


def esptool_args(
    port: str, firmware: Path, chip: str, baud: int, major: int | None = None
) -> list[list[str]]:
    """The two esptool command lines: erase, then write at the chip's offset.

    esptool 5 spells subcommands and options with dashes, 4 with underscores.
    """
    dash = (major if major is not None else esptool_major()) >= 5
    erase, write, size = (
        ("erase-flash", "write-flash", "--flash-size")
        if dash
        else ("erase_flash", "write_flash", "--flash_size")
    )
    base = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port, "--baud", str(baud)]
    write_args = [*base, write]
    if chip == "esp8266":
        write_args += [size, "detect"]
    return [[*base, erase], [*write_args, OFFSETS[chip], str(firmware)]]


def flash(port: str, firmware: Path, chip: str, baud: int, echo=click.echo) -> None:  # type: ignore[no-untyped-def]
    check_firmware(firmware, chip)
    if chip == "esp8266" and "ROMFS" not in firmware.name.upper():
        echo(
            f"flash: warning: {firmware.name} does not look like the ROMFS variant; the app "
            f"needs {firmware_for(chip)}"
        )
    for args in esptool_args(port, firmware, chip, baud):
        step = "erase" if args[-1].startswith("erase") else "write"
        echo(f"flash: {step}: {' '.join(args[2:])}")
        r = subprocess.run(args)
        if r.returncode != 0:
            raise TspushError(
                f"esptool {step} failed on {port} (exit {r.returncode}): check the port, hold "
                "the board's BOOT/FLASH button while it connects, or lower --baud"
            )
    echo("flash: done; next: tspush deploy --port " + port)


@click.command("flash")
@click.option("--port", required=True, help="Serial port of the board (/dev/ttyUSB0, COM3).")
@click.option(
    "--firmware",
    required=True,
    type=click.Path(path_type=Path),
    help="MicroPython .bin: ESP8266_GENERIC-FLASH_2M_ROMFS-*.bin for an ESP8266 (D1 mini), "
    "ESP32_GENERIC-*.bin for an ESP32.",
)
@click.option(
    "--chip",
    type=click.Choice(sorted(OFFSETS)),
    default="esp8266",
    show_default=True,
    help="The board's chip (a Wemos D1 mini is esp8266): picks esptool's chip and write offset.",
)
@click.option(
    "--baud",
    default=460800,
    show_default=True,
    help="Serial speed while writing; try 115200 if writing fails on a long or cheap cable.",
)
def command(port: str, firmware: Path, chip: str, baud: int) -> None:
    """Erase an ESP board and write a MicroPython firmware image."""
    flash(port, firmware, chip, baud)
