"""Fuzzing the receiver's /api/put and /api/query bodies and the config loaders.

The receiver runs in-process (``create_app`` served by uvicorn in a thread,
so a crash shows as a 500): every body,
valid-looking or not, must get a 2xx or a clean 4xx with a JSON error, never
a 500. The config loaders read arbitrary bytes and arbitrary TOML documents
and may only raise ConfigError (a TspushError) naming the file.
"""

from __future__ import annotations

import json
import socket
import string
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import urllib3
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tspush.core.errors import ConfigError, TspushError

FUZZ = settings(
    max_examples=400,
    deadline=3000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOKEN = "fuzz-token-000111"
AUTH = {"Authorization": "Bearer " + TOKEN}


class _Reply:
    def __init__(self, r: Any) -> None:
        self.status_code = r.status
        self.headers = {k.lower(): v for k, v in r.headers.items()}
        self.text = r.data.decode("utf-8", "replace")
        self._data = r.data

    def json(self) -> Any:
        return json.loads(self._data)


class _Client:
    """The real receiver (uvicorn in a thread) behind a TestClient-like face."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(5, 20))

    def post(self, path: str, content: bytes, headers: dict[str, str]) -> _Reply:
        h = {**headers, "Content-Type": "application/json"}
        return _Reply(self.http.request("POST", self.url + path, body=content, headers=h))

    def get(self, path: str, params: dict[str, str], headers: dict[str, str]) -> _Reply:
        q = urllib.parse.urlencode(params)
        return _Reply(self.http.request("GET", self.url + path + "?" + q, headers=headers))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tspush.receiver.app import create_app
    from tspush.receiver.server import Server

    app = create_app(
        db_path=tmp_path_factory.mktemp("fz") / "rx.sqlite",
        write_token=TOKEN,
        read_token=TOKEN,
        max_body_bytes=64 * 1024,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = Server(app, sock)
    srv.start_thread()
    yield _Client("http://127.0.0.1:%d" % sock.getsockname()[1])
    srv.stop()


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=20),
)
json_any = st.recursive(
    json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
point_like = st.fixed_dictionaries(
    {},
    optional={
        "metric": st.one_of(st.text(max_size=20), json_any),
        "timestamp": st.one_of(st.integers(min_value=-(2**65), max_value=2**65), json_any),
        "value": st.one_of(st.integers(), st.floats(), st.text(max_size=8), json_any),
        "tags": st.one_of(st.dictionaries(st.text(max_size=8), st.text(max_size=8)), json_any),
    },
)


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


def _clean(r: Any, what: str) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        doc = r.json()
        assert isinstance(doc, dict) and ("error" in doc or "errors" in doc), doc


@FUZZ
@given(st.one_of(st.lists(point_like, max_size=5), point_like, json_any))
@example([{"metric": "m", "timestamp": 2**64, "value": 1, "tags": {"a": "b"}}])
@example([{"metric": "m", "timestamp": 1700000000, "value": 1e400, "tags": {"a": "b"}}])
@example([{"metric": "m" * 10000, "timestamp": 1700000000, "value": 1, "tags": {"a": "b"}}])
def test_put_bodies_never_crash_the_receiver(client: Any, doc: Any) -> None:
    r = client.post("/api/put?details", content=_dump(doc), headers=AUTH)
    _clean(r, "put")


@FUZZ
@given(st.binary(max_size=300))
@example(b"[" * 5000 + b"]" * 5000)
@example(b'{"a":' * 3000 + b"1" + b"}" * 3000)
@example(b"\xff\xfe[]")
def test_put_raw_bytes_never_crash_the_receiver(client: Any, body: bytes) -> None:
    r = client.post("/api/put", content=body, headers=AUTH)
    _clean(r, "put raw")


query_like = st.fixed_dictionaries(
    {},
    optional={
        "start": st.one_of(st.integers(), st.text(max_size=12), json_any),
        "end": st.one_of(st.integers(), st.text(max_size=12), json_any),
        "queries": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "metric": st.one_of(st.text(max_size=10), json_any),
                        "aggregator": st.one_of(
                            st.sampled_from(["sum", "avg", "max", "none", "zimsum", "p99"]),
                            json_any,
                        ),
                        "downsample": st.one_of(
                            st.sampled_from(["1m-avg", "0s-sum", "1h-max-nan", "x", "-5m-avg"]),
                            json_any,
                        ),
                        "tags": json_any,
                        "filters": json_any,
                        "rate": json_any,
                        "rateOptions": json_any,
                    },
                ),
                max_size=3,
            ),
            json_any,
        ),
        "msResolution": json_any,
        "arrays": json_any,
    },
)


@FUZZ
@given(st.one_of(query_like, json_any))
@example({"start": 0, "queries": [{"metric": "m", "aggregator": "sum", "downsample": "0s-avg"}]})
@example({"start": "1000y-ago", "queries": [{"metric": "m", "aggregator": "sum"}]})
@example(
    {
        "start": 1,
        "end": 2**62,
        "queries": [{"metric": "m", "aggregator": "sum", "downsample": "1ms-avg"}],
    }
)
def test_query_bodies_never_crash_the_receiver(client: Any, doc: Any) -> None:
    r = client.post("/api/query", content=_dump(doc), headers=AUTH)
    _clean(r, "query")


@FUZZ
@given(
    st.text(alphabet=string.printable, max_size=60),
    st.sampled_from(["start", "end", "m", "downsample", "tsuid"]),
)
def test_query_strings_never_crash_the_receiver(client: Any, text: str, key: str) -> None:
    params = {"start": "1h-ago", "m": "sum:m"}
    params[key] = text
    r = client.get("/api/query", params=params, headers=AUTH)
    _clean(r, "query string")


# -- config loaders ---------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=400))
@example(b"[output]\nurl = 'x'\n[output]\n")
@example(b"a = 1\n" * 3 + b"\xff")
@example(b"[[outputs]]\n[outputs]\n")
def test_config_loader_on_arbitrary_bytes_raises_only_config_errors(
    tmp_path: Path, data: bytes
) -> None:
    from tspush.host import agent_config
    from tspush.host import config as hconfig

    p = tmp_path / "fuzz.toml"
    p.write_bytes(data)
    p.chmod(0o600)
    try:
        doc = hconfig.load_toml(p)
    except ConfigError as e:
        assert str(p) in str(e)
        return
    for fn in (
        lambda: hconfig.file_settings(doc, p),
        lambda: agent_config.load(p, environ={}),
    ):
        try:
            fn()
        except TspushError as e:
            assert str(e)


toml_value = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=12),
    ),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), kids, max_size=3),
    ),
    max_leaves=8,
)
keys = st.sampled_from(
    [
        "url",
        "token",
        "token_file",
        "profile",
        "auth",
        "user",
        "fingerprint",
        "insecure",
        "ca_file",
        "connect_timeout_s",
        "read_timeout_s",
        "gzip",
        "mode",
        "max_points",
        "max_bytes",
        "tags",
        "interval_s",
        "dir",
        "type",
        "name",
        "command",
        "unknown_key",
    ]
)
section = st.dictionaries(keys, toml_value, max_size=6)


@FUZZ
@example({"sources": [{"type": []}]})  # finding: TypeError (unhashable list)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "output": section,
            "outputs": st.lists(section, max_size=2),
            "sources": st.lists(section, max_size=2),
            "spool": section,
            "agent": section,
            "tags": toml_value,
        },
    )
)
def test_config_documents_give_config_errors_never_crashes(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    from tspush.host import agent_config
    from tspush.host import config as hconfig

    p = tmp_path / "doc.toml"
    p.write_text("")
    p.chmod(0o600)
    try:
        hconfig.file_settings(doc, p)
    except TspushError as e:
        assert str(e)
    try:
        import unittest.mock

        with unittest.mock.patch.object(hconfig, "load_toml", lambda _p: doc):
            agent_config.load(p, environ={})
    except TspushError as e:
        assert str(e)
