"""Config: file discovery, TSPUSH_* variables, precedence, and messages that name key and file."""

from __future__ import annotations

import os

import pytest

from support.tls import RecordingServer
from tspush.core.errors import ConfigError
from tspush.host import config as cfg


def write(path, text: str, mode: int = 0o600):
    path.write_text(text)
    path.chmod(mode)
    return path


def test_precedence_flags_over_env_over_file(tmp_path):
    f = write(
        tmp_path / "tspush.toml",
        '[output]\nurl = "https://file.example/"\ntoken = "file-token"\nmax_points = 10\n'
        'gzip = true\nprofile = "opentsdb"\n[tags]\nhost = "file-host"\nsite = "home"\n',
    )
    env = {"TSPUSH_URL": "https://env.example/", "TSPUSH_MAX_POINTS": "20", "TSPUSH_GZIP": "no"}
    s = cfg.resolve({"url": "https://flag.example/"}, env, str(f))
    assert s.url == "https://flag.example/" and s.origin["url"] == "command line"
    assert s.max_points == 20 and s.origin["max_points"] == "environment"
    assert s.gzip is False
    assert s.token == "file-token" and s.origin["token"].startswith(str(f))
    assert s.profile == "opentsdb"
    assert s.tags == {"host": "file-host", "site": "home"}
    assert s.make_profile().max_points == 20 and s.make_profile().mode == "strict"
    s2 = cfg.resolve({"tags": {"host": "flag-host"}}, {"TSPUSH_TAGS": "site=env"}, str(f))
    assert s2.tags == {"host": "flag-host", "site": "env"}


def test_defaults_without_any_source(tmp_path):
    s = cfg.resolve({}, {}, None, cwd=tmp_path)
    assert s.config_path is None
    assert (s.url, s.token, s.profile, s.insecure, s.gzip) == (None, None, "ovh", False, False)
    assert (s.connect_timeout_s, s.read_timeout_s) == (5.0, 30.0)
    prof = s.make_profile()
    assert (prof.auth_scheme, prof.auth_user, prof.max_points, prof.max_bytes) == (
        "basic", "DESC", 50, 8192,
    )  # fmt: skip


def test_find_config_order(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    assert cfg.find_config(None, work) is None
    user = cfg.user_config_path()
    user.parent.mkdir(parents=True)
    write(user, '[output]\nurl = "https://user/"\n')
    assert cfg.find_config(None, work) == user
    local = write(work / "tspush.toml", '[output]\nurl = "https://local/"\n')
    assert cfg.find_config(None, work) == local
    explicit = write(tmp_path / "x.toml", "")
    assert cfg.find_config(str(explicit), work) == explicit
    with pytest.raises(ConfigError) as ei:
        cfg.find_config(str(tmp_path / "missing.toml"), work)
    assert str(ei.value) == "%s: config file not found (given with --config or TSPUSH_CONFIG)" % (
        tmp_path / "missing.toml"
    )


def test_malformed_toml_names_the_line(tmp_path):
    f = write(tmp_path / "bad.toml", '[output]\nurl = "https://h/"\ntoken = \n')
    with pytest.raises(ConfigError) as ei:
        cfg.load_toml(f)
    msg = str(ei.value)
    assert msg.startswith("%s: invalid TOML: " % f)
    assert "line 3" in msg


def test_unknown_key_suggests(tmp_path):
    f = write(tmp_path / "t.toml", '[output]\ntokn = "x"\n')
    with pytest.raises(ConfigError) as ei:
        cfg.resolve({}, {}, str(f))
    assert str(ei.value) == "unknown key 'tokn' in [output] of %s: did you mean 'token'?" % f
    assert ei.value.key == "tokn" and ei.value.source == str(f)


def test_connection_key_outside_its_table(tmp_path):
    f = write(tmp_path / "t.toml", 'url = "https://h/"\n')
    with pytest.raises(ConfigError) as ei:
        cfg.resolve({}, {}, str(f))
    assert str(ei.value) == (
        "%s: key 'url' must be inside the [output] table: add a line [output] above it" % f
    )


def test_agent_tables_are_left_to_the_agent(tmp_path):
    f = write(tmp_path / "t.toml", '[output]\nurl = "https://h/"\n[spool]\ndir = "/x"\n')
    assert cfg.resolve({}, {}, str(f)).url == "https://h/"


@pytest.mark.parametrize(
    "line, message",
    [
        ('max_points = "fifty"', "max_points: expected an integer, got 'fifty' (string)"),
        ("max_points = 1.5", "max_points: expected an integer, got 1.5 (float)"),
        ("max_points = 0", "max_points: must be above 0, got 0"),
        ("max_bytes = 10", "max_bytes: 10 is too small for one point; use at least 64"),
        ('insecure = "yes"', "insecure: expected true or false, got 'yes' (string)"),
        ("connect_timeout_s = true", "connect_timeout_s: expected a number, got True (boolean)"),
        ("url = 42", "url: expected a string, got 42 (integer)"),
        ('profile = "influxx"', "profile: unknown profile 'influxx': use one of"),
        ('auth = "digest"', "auth: unknown scheme 'digest': use one of"),
        ('mode = "loose"', "mode: 'loose': use 'strict' (OpenTSDB rules), 'lenient'"),
        ('fingerprint = "AB CD"', "fingerprint: 'AB CD' is not a certificate fingerprint"),
        ("tags = { host = true }", "tags.host: expected a string, got True (boolean)"),
    ],
)
def test_wrong_types_name_key_and_file(tmp_path, line, message):
    f = write(tmp_path / "t.toml", "[output]\n%s\n" % line)
    with pytest.raises(ConfigError) as ei:
        cfg.resolve({}, {}, str(f))
    assert str(ei.value).startswith("[output] of %s: %s" % (f, message)), str(ei.value)


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "TSPUSH_MAX_POINTS",
            "lots",
            "TSPUSH_MAX_POINTS: max_points: expected an integer, got lots",
        ),
        (
            "TSPUSH_INSECURE",
            "maybe",
            "TSPUSH_INSECURE: insecure: expected true or false, got maybe",
        ),
        ("TSPUSH_TAGS", "host", "TSPUSH_TAGS: tag 'host' is not key=value (write k1=v1,k2=v2)"),
        ("TSPUSH_READ_TIMEOUT_S", "-1", "TSPUSH_READ_TIMEOUT_S: read_timeout_s: must be above 0"),
    ],
)
def test_env_errors_name_the_variable(name, value, message):
    with pytest.raises(ConfigError) as ei:
        cfg.env_settings({name: value})
    assert str(ei.value).startswith(message)


def test_env_values_are_converted():
    got = cfg.env_settings(
        {
            "TSPUSH_URL": "https://h/",
            "TSPUSH_INSECURE": "1",
            "TSPUSH_CONNECT_TIMEOUT_S": "2.5",
            "TSPUSH_MAX_BYTES": "4096",
            "TSPUSH_TAGS": "host=pi, site=home",
            "TSPUSH_UNRELATED_THING": "ignored",
        }
    )
    assert got == {
        "url": "https://h/",
        "insecure": True,
        "connect_timeout_s": 2.5,
        "max_bytes": 4096,
        "tags": {"host": "pi", "site": "home"},
    }


def test_token_file_and_readable_token_warnings(tmp_path):
    warnings: list[str] = []
    tf = write(tmp_path / "tok", "from-file\n", 0o644)
    s = cfg.resolve({"token_file": str(tf)}, {}, None, cwd=tmp_path, warn=warnings.append)
    assert s.token == "from-file"
    assert warnings == [
        "tspush: warning: %s holds a token and is readable by group/others: run chmod 600 %s"
        % (tf, tf)
    ]
    f = write(tmp_path / "c.toml", '[output]\ntoken = "t"\n', 0o640)
    warnings.clear()
    cfg.resolve({}, {}, str(f), warn=warnings.append)
    assert len(warnings) == 1 and str(f) in warnings[0]
    f.chmod(0o600)
    warnings.clear()
    cfg.resolve({}, {}, str(f), warn=warnings.append)
    assert warnings == []
    # a flag token wins over the file's token_file
    s = cfg.resolve({"token": "flag"}, {"TSPUSH_TOKEN_FILE": str(tf)}, str(f), warn=print)
    assert s.token == "flag"


def test_empty_token_file_is_an_error(tmp_path):
    tf = write(tmp_path / "tok", "\n")
    with pytest.raises(ConfigError) as ei:
        cfg.resolve({"token_file": str(tf)}, {}, None, cwd=tmp_path)
    assert str(ei.value) == "command line: token_file: %s is empty" % tf


def test_missing_url_says_how_to_set_it(tmp_path):
    with pytest.raises(ConfigError) as ei:
        cfg.resolve({}, {}, None, cwd=tmp_path).make_transport()
    assert "no server URL: pass --url, set TSPUSH_URL, or set url in the [output] table" in str(
        ei.value
    )


def test_cli_uses_config_file_and_env(tspush, tmp_path):
    with RecordingServer(tls=False) as srv:
        write(
            tmp_path / "tspush.toml",
            '[output]\nurl = "%s"\ntoken = "file-tok"\nauth = "bearer"\n[tags]\nhost = "pi"\n'
            % srv.url,
            0o644,
        )
        r1 = tspush("push", "m", "1")  # ./tspush.toml
        r2 = tspush("push", "m", "2", env={"TSPUSH_TOKEN": "env-tok"})
        r3 = tspush("push", "m", "3", "--token", "flag-tok", env={"TSPUSH_TOKEN": "env-tok"})
    assert [r.returncode for r in (r1, r2, r3)] == [0, 0, 0], r1.stderr
    assert [q.header("Authorization") for q in srv.requests] == [
        "Bearer file-tok",
        "Bearer env-tok",
        "Bearer flag-tok",
    ]
    assert srv.requests[0].body == b'[{"metric":"m","value":1,"tags":{"host":"pi"}}]'
    assert "readable by group/others" in r1.stderr
    assert "file-tok" not in r1.stderr


def test_cli_config_errors_exit_2(tspush, tmp_path):
    bad = write(tmp_path / "bad.toml", "[output\n")
    r = tspush("push", "--config", str(bad), "m", "1")
    assert r.returncode == 2
    assert r.stderr.startswith("tspush: error: %s: invalid TOML: " % bad)
    assert "line 1" in r.stderr
    r = tspush("push", "m", "1", env={"TSPUSH_CONFIG": str(tmp_path / "none.toml")})
    assert r.returncode == 2 and "config file not found" in r.stderr
    r = tspush("push", "m", "1")
    assert r.returncode == 2 and "no server URL" in r.stderr


def test_sample_config_is_valid_and_documents_every_key():
    from importlib.resources import files

    text = files("tspush").joinpath("sample-config.toml").read_text()
    import tomllib

    doc = tomllib.loads(text)
    # every connection key appears (commented, with its default) in [output]
    for key in cfg.CONNECTION_KEYS:
        assert "\n# %s = " % key in text or "\n%s = " % key in text, key
    assert cfg.file_settings(doc, "sample") is not None
    assert os.path.basename(cfg.FILE_NAME) == "tspush.toml"
