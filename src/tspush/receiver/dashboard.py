"""``GET /``: the dashboard page, and its own small script and style sheet.

The page is plain HTML; ``static/dashboard.js`` (ours, no library) asks the
same OpenTSDB API Grafana would (/api/suggest, /api/search/lookup,
/api/query) and draws the chart as inline SVG. Nothing comes from the
internet, so it works on a LAN without one.

Signing in: open ``/?token=READ_TOKEN`` once; the server answers with a
redirect to ``/`` that sets an HttpOnly cookie (an HMAC of the token, not the
token), so the token leaves the address bar and the history. Without a
cookie, ``/`` asks for Basic auth (any user name, the read token as password).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from tspush import __version__
from tspush.receiver.auth import COOKIE
from tspush.receiver.errors import ApiError

if TYPE_CHECKING:
    from tspush.receiver.app import Receiver

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE_MAX_AGE_S = 30 * 86400

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tspush dashboard</title>
<link rel="stylesheet" href="/static/dashboard.css?v={version}">
</head>
<body>
<header>
  <h1>tspush</h1>
  <label>Range
    <select id="range">
      <option value="5m">5 minutes</option>
      <option value="15m" selected>15 minutes</option>
      <option value="1h">1 hour</option>
      <option value="6h">6 hours</option>
      <option value="24h">24 hours</option>
      <option value="7d">7 days</option>
      <option value="30d">30 days</option>
    </select>
  </label>
  <label>Refresh
    <select id="refresh">
      <option value="0">off</option>
      <option value="5" selected>5 s</option>
      <option value="10">10 s</option>
      <option value="30">30 s</option>
      <option value="60">1 min</option>
    </select>
  </label>
  <span id="views">
    <button type="button" data-view="chart" class="on">Chart</button>
    <button type="button" data-view="fleet">Fleet</button>
    <button type="button" data-view="overview">Overview</button>
  </span>
  <span id="status" role="status">loading...</span>
</header>
<main>
  <nav>
    <h2>Metrics</h2>
    <input id="filter" type="search" placeholder="filter metrics" aria-label="filter metrics">
    <ul id="metrics"></ul>
  </nav>
  <section id="fleet-view" hidden>
    <h2>Fleet: devices by their host tag</h2>
    <p id="fleet-summary"></p>
    <table id="fleet"><thead><tr><th>host</th><th>state</th><th>last seen</th>
    <th>points/hour</th><th>interval</th><th>free heap</th><th>RSSI</th><th>reset cause</th>
    <th>spool</th><th>dropped</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="overview-view" hidden>
    <h2>Overview: every metric</h2>
    <div id="overview"></div>
  </section>
  <section id="chart-view">
    <h2 id="title">Pick a metric</h2>
    <label id="series-label">Series
      <select id="series"><option value="">all tag sets</option></select>
    </label>
    <div id="chart" aria-live="polite"></div>
    <table id="legend"><thead><tr><th></th><th>series</th><th>last</th><th>min</th><th>max</th>
    <th>points</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<footer>tspush {version}: OpenTSDB API at <code>/api/query</code>, <code>/api/put</code></footer>
<script src="/static/dashboard.js?v={version}"></script>
</body>
</html>
"""


SIGN_IN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tspush: read token needed</title>
<link rel="stylesheet" href="/static/dashboard.css?v={version}"></head>
<body><main><section>
<h2>{message}: this dashboard needs the read token</h2>
<p>Open <code>/?token=YOUR_READ_TOKEN</code> once; the browser then remembers it.</p>
<p>The read token is the one in <code>--read-token-file</code> (or <code>--token-file</code>)
given to <code>tspush serve</code>, or, when it generated them, the <code>read</code> entry of
<code>tokens.json</code> next to its database (the path is printed at start-up).</p>
</section></main></body>
</html>
"""


def sign_in_page(e: ApiError) -> HTMLResponse:
    """A 401 a person can act on (a browser shows JSON as a wall of text)."""
    html = SIGN_IN_PAGE.replace("{version}", __version__).replace("{message}", e.message)
    return HTMLResponse(
        html,
        status_code=401,
        headers={
            "WWW-Authenticate": 'Basic realm="tspush"',
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'",
        },
    )


class Dashboard:
    def __init__(self, rx: Receiver) -> None:
        self.rx = rx

    async def page(self, request: Request) -> Response:
        tokens = self.rx.tokens
        token = request.query_params.get("token")
        if token is not None and not tokens.no_auth:
            if not tokens.read_token_ok(token):
                return sign_in_page(ApiError(401, "Invalid token"))
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(
                COOKIE,
                tokens.cookie_value() or "",
                max_age=COOKIE_MAX_AGE_S,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
            return resp
        try:
            self.rx.need_read(request)
        except ApiError as e:
            return sign_in_page(e)
        html = PAGE.replace("{version}", __version__)
        return HTMLResponse(
            html,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'self'; style-src 'self'; "
                "script-src 'self'; img-src 'self' data:",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    def static(self) -> StaticFiles:
        return StaticFiles(directory=str(STATIC_DIR))
