"""A stand-in for OVH Metrics: vmauth (Debian's victoria-metrics) with TLS and Basic auth.

OVH's platform (closed 2021) was an HTTPS OpenTSDB endpoint taking Basic auth
with the token as password. Here vmauth plays that part in front of a real
VictoriaMetrics' OpenTSDB listener:

    https://127.0.0.1:<port>/api/put  --Basic DESC:TOKEN-->  vm.opentsdb_url/api/put

vmauth compares the Authorization header literally (``Basic`` as RFC 7617
writes it) and echoes it back in its 401 text, which makes it a good test of
token redaction.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from support.ports import free_port, stop_process, wait_port
from support.tls import Certs, make_certs

BINARY = "vmauth"


def available() -> bool:
    return shutil.which(BINARY) is not None


class VMAuth:
    """One vmauth process on a free loopback port, TLS with a throw-away certificate."""

    def __init__(
        self,
        work_dir: Path,
        backend_url: str,
        *,
        user: str = "DESC",
        token: str = "",
        certs: Certs | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.backend_url = backend_url.rstrip("/")
        self.user = user
        self.token = token
        self.certs = certs or make_certs(self.work_dir)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.work_dir / "vmauth.log"
        self.config_path = self.work_dir / "auth.yml"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def sha1_original(self) -> str:
        """The certificate's SHA-1 as the original board wanted it: ``AB CD ..``."""
        h = hashlib.sha1(self.certs.der).hexdigest().upper()
        return " ".join(h[i : i + 2] for i in range(0, len(h), 2))

    def start(self) -> VMAuth:
        # a YAML double-quoted scalar: JSON escaping is valid YAML
        import json

        self.config_path.write_text(
            "users:\n"
            f"  - username: {json.dumps(self.user)}\n"
            f"    password: {json.dumps(self.token)}\n"
            f"    url_prefix: {json.dumps(self.backend_url)}\n"
        )
        args = [
            BINARY,
            f"-auth.config={self.config_path}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-tls",
            f"-tlsCertFile={self.certs.cert_file}",
            f"-tlsKeyFile={self.certs.key_file}",
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            log_tail = self.log_path.read_text()[-2000:]
            raise RuntimeError("vmauth did not start: " + log_tail) from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> VMAuth:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
