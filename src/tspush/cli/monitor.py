"""``tspush monitor``: the board's serial log with the computer's timestamps.

The Arduino Serial Monitor of the original, for MicroPython boards: opens
the port with pyserial (``serial_for_url``, so ``socket://host:port`` works
too, e.g. a board behind ``esp_rfc2217_server`` or the unix-port virtual
board), prints each line as ``HH:MM:SS.mmm  line``, and stops on Ctrl-C,
after ``--lines``, on a line containing ``--until``, or after ``--timeout-s``.
The board never prints its token; lines are also passed through redaction
of the token from the local config when there is one.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

import click

from tspush.core.errors import TspushError

DEFAULT_BAUD = 115200


def open_port(port: str, baud: int) -> Any:
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.2)
    except (serial.SerialException, ValueError, OSError) as e:
        raise TspushError(
            f"cannot open {port}: {e}: check the port name (tspush monitor --port "
            "/dev/ttyUSB0, COM3 or socket://host:port) and that no other program holds it"
        ) from None


def stamp(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now()
    return now.strftime("%H:%M:%S.") + "%03d" % (now.microsecond // 1000)


def follow(
    ser: Any,
    echo: Callable[[str], None],
    lines: int = 0,
    until: str | None = None,
    timeout_s: float = 0,
    secrets: list[str] | None = None,
) -> int:
    """Print timestamped lines; return how many. Ends at EOF, ``lines``, ``until`` or time."""
    from tspush.core.auth import redact

    deadline = time.monotonic() + timeout_s if timeout_s else None
    buf = b""
    count = 0
    while deadline is None or time.monotonic() < deadline:
        try:
            chunk = ser.read(256)
        except OSError as e:  # serial.SerialException is an OSError
            if buf:
                echo(f"{stamp()}  {redact(buf.decode('utf-8', 'replace'), secrets or [])}")
            raise TspushError(f"the port closed: {e}: was the board unplugged or reset?") from None
        if not chunk:
            continue
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = redact(raw.decode("utf-8", "replace").rstrip("\r"), secrets or [])
            echo(f"{stamp()}  {line}")
            count += 1
            if (lines and count >= lines) or (until and until in line):
                return count
    return count


@click.command("monitor")
@click.option(
    "--port", required=True, help="Serial port (/dev/ttyUSB0, COM3) or socket://host:port."
)
@click.option("--baud", default=DEFAULT_BAUD, show_default=True, help="MicroPython uses 115200.")
@click.option("--lines", default=0, help="Stop after this many lines (0: never).")
@click.option("--until", default=None, help="Stop after a line containing this text.")
@click.option("--timeout-s", default=0.0, help="Stop after this many seconds (0: never).")
def command(port: str, baud: int, lines: int, until: str | None, timeout_s: float) -> None:
    """Show the board's serial log with timestamps (Ctrl-C to stop)."""
    secrets: list[str] = []
    try:
        from tspush.core.auth import secret_forms
        from tspush.host.config import resolve

        s = resolve({}, warn=lambda _m: None)
        secrets = secret_forms(s.token, s.user or "DESC")
    except TspushError:
        pass
    ser = open_port(port, baud)
    click.echo(f"{stamp()}  -- tspush monitor on {port} at {baud} baud (Ctrl-C to stop) --")
    try:
        follow(ser, click.echo, lines, until, timeout_s, secrets)
    except KeyboardInterrupt:
        pass
    finally:
        ser.close()
