"""TLS for ``core.http.Connection``: CA verification, certificate pins, or explicitly insecure.

Its own module so that the relay path (plain HTTP on the LAN, as an
ESP8266 pushes) never loads it: every module costs RAM on a board. Errors
are mapped to ``tspush.core.errors`` here, at the transport edge.
"""

from tspush.core import errors
from tspush.core.http import _is_timeout


def _module():
    try:
        import tls
    except ImportError:
        import ssl as tls
    return tls


def wrap(conn, raw):
    """``raw`` wrapped in TLS for ``conn`` (a Connection): verified, pinned or insecure."""
    import gc

    gc.collect()
    free = gc.mem_free() if hasattr(gc, "mem_free") else None
    if free is not None and free < conn.min_free_bytes:
        conn.close()
        e = errors.TLSError(
            "out of memory: %d bytes free, TLS needs about %d: send fewer points per "
            "batch or use relay mode" % (free, conn.min_free_bytes)
        )
        e.reason = "out-of-memory"
        raise e
    tls = _module()
    try:
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if conn.ca_der and not conn.insecure:
            cas = conn.ca_der if isinstance(conn.ca_der, list) else [conn.ca_der]
            for der in cas:  # one per call: the Pico W takes one DER at a time
                if hasattr(tls, "MBEDTLS_VERSION"):  # MicroPython: positional cadata
                    ctx.load_verify_locations(der)
                else:
                    ctx.load_verify_locations(cadata=der)
            ctx.verify_mode = tls.CERT_REQUIRED
        else:  # pins alone (checked below) or explicitly insecure
            if hasattr(ctx, "check_hostname"):
                ctx.check_hostname = False
            ctx.verify_mode = tls.CERT_NONE
        sock = ctx.wrap_socket(raw, server_hostname=conn.host)
    except MemoryError as e:
        conn.close()
        err = errors.TLSError("out of memory during the TLS handshake: free heap or use relay", e)
        err.reason = "out-of-memory"
        raise err
    except (OSError, ValueError) as e:
        conn.close()
        if _is_timeout(e):
            raise errors.Timeout("%s: TLS handshake timed out" % conn.where(), e)
        raise errors.TLSError(
            "%s: TLS handshake failed (%s): check tls_ca matches the server's CA, the "
            "host name and the board's clock" % (conn.where(), e),
            e,
        )
    if conn.pins:
        check_pins(conn, sock)
    return sock


def check_pins(conn, sock):
    """Close and raise unless the server's certificate matches one of ``conn.pins``."""
    from tspush.core.fingerprint import format_colon, matches

    get = getattr(sock, "getpeercert", None)
    if get is None:
        if conn.ca_der and not conn.insecure:
            conn.pins_unchecked = True  # the CA check still holds; the caller says so
            return
        try:
            sock.close()
        except OSError:
            pass
        conn.close()
        raise errors.TLSError(
            "%s: this MicroPython cannot read the server certificate, so the fingerprint "
            "cannot be checked; nothing was sent: use tls_ca instead" % conn.where()
        )
    der = get(True)
    if not der:
        conn.close()
        raise errors.PinMismatch("%s: the server sent no certificate to check" % conn.where())
    for algo, digest in conn.pins:
        if matches(der, algo, digest):
            return
    import hashlib

    seen = format_colon(hashlib.sha256(der).digest())
    try:
        sock.close()
    except OSError:
        pass
    conn.close()
    raise errors.PinMismatch(
        "%s: certificate fingerprint mismatch (server has sha256 %s); nothing was sent: "
        "update the fingerprint if the certificate was renewed" % (conn.where(), seen)
    )
