"""The VictoriaMetrics fixture itself reads back exactly what was put."""

import urllib.request


def test_put_and_read_back(victoria):
    body = b'[{"metric":"fixture.check","value":1.25,"timestamp":1700000000,"tags":{"a":"b"}}]'
    req = urllib.request.Request(victoria.opentsdb_url + "/api/put", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    assert urllib.request.urlopen(req, timeout=10).status == 204
    rows = victoria.wait_for("fixture.check", 1)
    assert rows == [("fixture.check", {"a": "b"}, 1700000000000, 1.25)]
