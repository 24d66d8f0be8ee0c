// tspush dashboard: lists metrics, draws the selected one as SVG lines.
// Talks only to this server's OpenTSDB API; no library, no network access.
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var W = 900, H = 320, PAD_L = 84, PAD_R = 16, PAD_T = 12, PAD_B = 28;
  var COLOURS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285",
                 "#c2255c", "#5c940d", "#364fc7", "#862e9c"];
  var RANGES_S = { "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400,
                   "7d": 604800, "30d": 2592000 };
  // rangeChosen: the person picked the range (menu or link); until then the chart starts
  // where the data starts, so a fresh receiver does not show a stub at the right edge.
  var state = { metric: null, series: "", range: "15m", rangeChosen: false, refresh: 5,
                timer: null, view: "chart", busy: null, again: false, delayS: 5,
                ovBusy: null, ovAgain: false };

  function $(id) { return document.getElementById(id); }

  function setStatus(text, bad) {
    var s = $("status");
    s.textContent = text;
    s.className = bad ? "bad" : "";
  }

  function api(path, body) {
    var opts = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (doc) {
        if (!r.ok) {
          var e = doc && doc.error ? doc.error.message : "HTTP " + r.status;
          throw new Error(e);
        }
        return doc;
      });
    });
  }

  function readHash() {
    var h = window.location.hash.replace(/^#/, "");
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i < 0) { return; }
      var k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
      if (k === "m") { state.metric = v; }
      if (k === "s") { state.series = v; }
      if (k === "r" && RANGES_S[v]) { state.range = v; state.rangeChosen = true; }
      if (k === "v" && (v === "fleet" || v === "overview")) { state.view = v; }
    });
  }

  function writeHash() {
    var parts = [];
    if (state.metric) { parts.push("m=" + encodeURIComponent(state.metric)); }
    if (state.series) { parts.push("s=" + encodeURIComponent(state.series)); }
    if (state.rangeChosen) { parts.push("r=" + state.range); }
    if (state.view !== "chart") { parts.push("v=" + state.view); }
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  function tagText(tags) {
    var keys = Object.keys(tags || {}).sort();
    return keys.map(function (k) { return k + "=" + tags[k]; }).join(",");
  }

  // The metric filter: every word typed must appear in the name (case ignored).
  function matches(name) {
    var f = $("filter");  // absent from a page served by an older receiver
    var words = f ? f.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
    var low = name.toLowerCase();
    return words.every(function (w) { return low.indexOf(w) >= 0; });
  }

  function applyFilter() {
    Array.prototype.forEach.call(document.querySelectorAll("#metrics button"), function (b) {
      b.parentNode.hidden = !matches(b.getAttribute("data-metric"));
    });
  }

  function loadMetrics() {
    return api("/api/suggest?type=metrics&q=&max=1000").then(function (names) {
      var ul = $("metrics");
      ul.textContent = "";
      names.forEach(function (name) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = name;
        b.setAttribute("data-metric", name);
        if (name === state.metric) { b.className = "on"; }
        li.hidden = !matches(name);
        b.addEventListener("click", function () { pick(name, ""); });
        li.appendChild(b);
        ul.appendChild(li);
      });
      if (!names.length) {
        setStatus("no data yet: push a point to /api/put", false);
      } else if (!state.metric || names.indexOf(state.metric) < 0) {
        state.metric = names[0];
      }
      return names;
    });
  }

  function loadSeries() {
    if (!state.metric) { return Promise.resolve(); }
    return api("/api/search/lookup?m=" + encodeURIComponent(state.metric) + "&limit=1000")
      .then(function (doc) {
        var sel = $("series");
        sel.textContent = "";
        var all = document.createElement("option");
        all.value = "";
        all.textContent = "all tag sets (" + doc.results.length + ")";
        sel.appendChild(all);
        doc.results.forEach(function (r) {
          var o = document.createElement("option");
          o.value = tagText(r.tags);
          o.textContent = o.value || "(no tags)";
          sel.appendChild(o);
        });
        sel.value = state.series;
        if (sel.value !== state.series) { state.series = ""; sel.value = ""; }
      });
  }

  function downsampleFor(rangeS) {
    if (rangeS <= 3600) { return null; }
    if (rangeS <= 21600) { return "1m-avg"; }
    if (rangeS <= 86400) { return "5m-avg"; }
    if (rangeS <= 604800) { return "1h-avg"; }  // hour rollups answer it
    return "2h-avg";
  }

  function buildQuery() {
    var rangeS = RANGES_S[state.range];
    var sub = { metric: state.metric, aggregator: "none" };
    var ds = downsampleFor(rangeS);
    if (ds) { sub.downsample = ds; }
    if (state.series) {
      sub.filters = state.series.split(",").map(function (kv) {
        var i = kv.indexOf("=");
        return { type: "literal_or", tagk: kv.slice(0, i), filter: kv.slice(i + 1), groupBy: false };
      });
      sub.explicitTags = true;
    }
    return { start: state.range + "-ago", msResolution: true, queries: [sub] };
  }

  // One request in flight for the chart: a refresh asked for meanwhile runs once, after it.
  function refresh() {
    if (!state.metric) { return Promise.resolve(); }
    if (state.busy) { state.again = true; return state.busy; }
    var metric = state.metric;
    state.busy = api("/api/query", buildQuery()).then(function (results) {
      if (metric !== state.metric) { return; }
      draw(results);
      setStatus("updated " + new Date().toLocaleTimeString() + slowNote(), false);
    }).catch(function (e) { setStatus(String(e.message || e), true); }).then(function () {
      state.busy = null;
      if (state.again) { state.again = false; return refresh(); }
    });
    return state.busy;
  }

  function slowNote() {
    return state.delayS > state.refresh && state.refresh > 0 ?
      " (answers are slow: refreshing every " + state.delayS + " s)" : "";
  }

  function niceStep(span, count) {
    var raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var n = raw / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
  }

  // The smallest round step giving at most 7 ticks: 1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6,
  // 12 h; 1, 2, 7 days.
  var TIME_STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];

  function timeStep(spanMs) {
    for (var i = 0; i < TIME_STEPS_MIN.length; i++) {
      if (spanMs / (TIME_STEPS_MIN[i] * 60000) <= 7) { return TIME_STEPS_MIN[i] * 60000; }
    }
    return TIME_STEPS_MIN[TIME_STEPS_MIN.length - 1] * 60000;
  }

  // Where the line must break: the first point, and after a silence longer than three
  // usual intervals (an outage is a gap, not a straight line across it).
  function breaks(pts) {
    var deltas = [];
    for (var i = 1; i < pts.length; i++) { deltas.push(pts[i][0] - pts[i - 1][0]); }
    deltas.sort(function (a, b) { return a - b; });
    var gap = deltas.length ? 3 * deltas[Math.floor(deltas.length / 2)] : 0;
    return pts.map(function (p, i) { return i === 0 || (gap > 0 && p[0] - pts[i - 1][0] > gap); });
  }

  function el(name, attrs, text) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // Units from the metric name's ending (sys.mem.used_percent, sys.disk.free_bytes).
  function unitFor(metric) {
    if (/bytes$/i.test(metric)) { return "B"; }
    if (/(percent|_pct)$/i.test(metric)) { return "%"; }
    if (/(_s|seconds)$/i.test(metric)) { return "s"; }
    return "";
  }

  var PREFIXES = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

  // 97190000000 bytes -> [1e9, "G"]: one scale for a whole axis, so labels differ.
  function scaleFor(magnitude, unit) {
    if (unit === "%" || unit === "s") { return [1, ""]; }
    for (var i = 0; i < PREFIXES.length; i++) {
      if (magnitude >= PREFIXES[i][0]) { return PREFIXES[i]; }
    }
    return [1, ""];
  }

  function withUnit(num, prefix, unit) {
    return prefix || unit ? num + " " + prefix + unit : num;
  }

  // Axis labels: as many decimals as the step needs, so neighbours never look alike.
  function axisFormat(lo, hi, step, unit) {
    var sc = scaleFor(Math.max(Math.abs(lo), Math.abs(hi)), unit);
    var dec = Math.max(0, Math.min(9, -Math.floor(Math.log10(step / sc[0]) + 1e-9)));
    return function (v) { return withUnit((v / sc[0]).toFixed(dec), sc[1], unit); };
  }

  // One value (legend, hover): six significant digits at most, with its unit.
  function fmt(v, unit) {
    if (v === null || v === undefined) { return "-"; }
    var sc = scaleFor(Math.abs(v), unit || "");
    return withUnit(String(Number((v / sc[0]).toPrecision(6))), sc[1], unit || "");
  }

  function draw(results) {
    var now = Date.now(), t0 = now - RANGES_S[state.range] * 1000, t1 = now;
    var lines = results.map(function (r, i) {
      var pts = Object.keys(r.dps).map(function (k) { return [Number(k), r.dps[k]]; })
        .filter(function (p) { return p[1] !== null; })
        .sort(function (a, b) { return a[0] - b[0]; });
      return { label: r.metric + "{" + tagText(r.tags) + "}", pts: pts,
               colour: COLOURS[i % COLOURS.length] };
    });
    if (!state.rangeChosen) {
      var first = Infinity;
      lines.forEach(function (l) { if (l.pts.length && l.pts[0][0] < first) { first = l.pts[0][0]; } });
      if (first > t0 && first < t1) { t0 = first - Math.max((t1 - first) * 0.05, 5000); }
    }
    var lo = Infinity, hi = -Infinity;
    lines.forEach(function (l) {
      l.pts.forEach(function (p) { if (p[1] < lo) { lo = p[1]; } if (p[1] > hi) { hi = p[1]; } });
    });
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 1; hi += 1; }
    var pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
    function x(t) { return PAD_L + (t - t0) / (t1 - t0) * (W - PAD_L - PAD_R); }
    function y(v) { return PAD_T + (hi - v) / (hi - lo) * (H - PAD_T - PAD_B); }

    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img",
                          "aria-label": "chart of " + state.metric });
    var unit = unitFor(state.metric || "");
    var ystep = niceStep(hi - lo, 5);
    var ylabel = axisFormat(lo, hi, ystep, unit);
    for (var k = Math.ceil(lo / ystep); k * ystep <= hi; k++) {
      var v = k * ystep;
      svg.appendChild(el("line", { x1: PAD_L, x2: W - PAD_R, y1: y(v), y2: y(v), "class": "grid" }));
      svg.appendChild(el("text", { x: PAD_L - 6, y: y(v) + 4, "class": "ylabel" }, ylabel(v)));
    }
    var tstep = timeStep(t1 - t0);
    // Ticks on round local times (whole hours, midnights), not on epoch multiples.
    var tz = new Date(t0).getTimezoneOffset() * 60000;
    for (var t = Math.ceil((t0 - tz) / tstep) * tstep + tz; t <= t1; t += tstep) {
      var d = new Date(t);
      var label = tstep >= 86400000 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) :
        d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: PAD_T, y2: H - PAD_B, "class": "grid" }));
      svg.appendChild(el("text", { x: x(t), y: H - 8, "class": "xlabel", "data-t": t }, label));
    }
    svg.appendChild(el("rect", { x: PAD_L, y: PAD_T, width: W - PAD_L - PAD_R,
                                 height: H - PAD_T - PAD_B, "class": "frame" }));
    lines.forEach(function (l) {
      if (!l.pts.length) { return; }
      var brk = breaks(l.pts);
      var dpath = l.pts.map(function (p, i) {
        return (brk[i] ? "M" : "L") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
      }).join(" ");
      var path = el("path", { d: dpath, stroke: l.colour, "class": "series",
                              "data-series": l.label, "data-points": l.pts.length,
                              "data-last": l.pts[l.pts.length - 1][1] });
      path.appendChild(el("title", {}, l.label));
      svg.appendChild(path);
      // A run of readings too short to see as a line (one point, or a few seconds in a
      // long range) is drawn as a dot at its last reading.
      var runStart = 0;
      l.pts.forEach(function (p, i) {
        if (brk[i]) { runStart = i; }
        if (i === l.pts.length - 1 || brk[i + 1]) {
          if (x(p[0]) - x(l.pts[runStart][0]) < 4) {
            svg.appendChild(el("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: l.colour }));
          }
        }
      });
    });
    if (!lines.length) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "class": "empty" },
                         "no points in this range"));
    }
    addReadout(svg, lines, x, t0, t1, unit);
    var chart = $("chart");
    chart.textContent = "";
    chart.appendChild(svg);

    var tbody = $("legend").tBodies[0];
    tbody.textContent = "";
    lines.forEach(function (l) {
      var vals = l.pts.map(function (p) { return p[1]; });
      var tr = document.createElement("tr");
      var cells = ["", l.label, vals.length ? fmt(vals[vals.length - 1], unit) : "-",
                   vals.length ? fmt(Math.min.apply(null, vals), unit) : "-",
                   vals.length ? fmt(Math.max.apply(null, vals), unit) : "-",
                   String(vals.length)];
      cells.forEach(function (c, i) {
        var td = document.createElement("td");
        if (i === 0) {
          var sw = document.createElement("span");
          sw.className = "swatch";
          sw.style.background = l.colour;
          td.appendChild(sw);
        } else {
          td.textContent = c;
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  // Hovering the chart shows the time and each series' value nearest the pointer.
  function addReadout(svg, lines, x, t0, t1, unit) {
    var MAX_ROWS = 8;
    var cursor = el("line", { y1: PAD_T, y2: H - PAD_B, "class": "cursor", visibility: "hidden" });
    var box = el("g", { "class": "readout", visibility: "hidden" });
    svg.appendChild(cursor);
    svg.appendChild(box);
    function hide() {
      cursor.setAttribute("visibility", "hidden");
      box.setAttribute("visibility", "hidden");
    }
    function nearest(pts, t) {
      var best = null;
      pts.forEach(function (p) {
        if (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t)) { best = p; }
      });
      return best;
    }
    svg.addEventListener("mouseleave", hide);
    svg.addEventListener("mousemove", function (ev) {
      var r = svg.getBoundingClientRect();
      var px = (ev.clientX - r.left) * W / r.width;
      if (px < PAD_L || px > W - PAD_R) { hide(); return; }
      var t = t0 + (px - PAD_L) / (W - PAD_L - PAD_R) * (t1 - t0);
      var rows = [];
      lines.forEach(function (l) {
        var p = nearest(l.pts, t);
        if (p !== null) { rows.push({ l: l, p: p }); }
      });
      if (!rows.length) { hide(); return; }
      var at = nearest(rows.map(function (row) { return row.p; }), t)[0];
      var texts = [new Date(at).toLocaleString()];
      rows.slice(0, MAX_ROWS).forEach(function (row) {
        texts.push(row.l.label + "  " + fmt(row.p[1], unit));
      });
      if (rows.length > MAX_ROWS) { texts.push("... and " + (rows.length - MAX_ROWS) + " more"); }
      var width = 16 + 6.6 * Math.max.apply(null, texts.map(function (s) { return s.length; }));
      var height = 8 + 15 * texts.length;
      var bx = x(at) + 12 + width > W - PAD_R ? x(at) - 12 - width : x(at) + 12;
      box.textContent = "";
      box.appendChild(el("rect", { x: bx, y: PAD_T + 4, width: width, height: height, rx: 4 }));
      texts.forEach(function (s, i) {
        var row = i >= 1 && i <= MAX_ROWS ? rows[i - 1] : null;
        box.appendChild(el("text", { x: bx + 8, y: PAD_T + 20 + 15 * i,
                                     fill: row ? row.l.colour : "#1d2330" }, s));
      });
      cursor.setAttribute("x1", x(at));
      cursor.setAttribute("x2", x(at));
      cursor.setAttribute("visibility", "visible");
      box.setAttribute("visibility", "visible");
    });
  }

  function pick(metric, series) {
    state.metric = metric;
    state.series = series;
    $("title").textContent = metric;
    Array.prototype.forEach.call(document.querySelectorAll("#metrics button"), function (b) {
      b.className = b.getAttribute("data-metric") === metric ? "on" : "";
    });
    writeHash();
    return loadSeries().then(refresh);
  }

  // The next refresh is armed when the last one has answered, never on a fixed beat: a slow
  // server gets at most one request per chart, and the wait grows to 4x the answer time.
  function schedule() {
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
    if (state.refresh <= 0) { return; }
    state.delayS = Math.max(state.delayS, state.refresh);
    state.timer = setTimeout(function () {
      state.timer = null;
      var t0 = Date.now(), before = state.metric;
      var work = state.view === "fleet" ? loadFleet() :
        state.view === "overview" ? loadMetrics().then(loadOverview) :
        loadMetrics().then(function () {
          // The first metric arrived after the page opened, or the shown one is
          // gone: select the new one properly (title, series list, address).
          return state.metric !== before ? pick(state.metric, "") : refresh();
        });
      work.catch(function (e) { setStatus(String(e.message || e), true); }).then(function () {
        var tookS = (Date.now() - t0) / 1000;
        state.delayS = Math.max(state.refresh, Math.ceil(4 * tookS));
        schedule();
      });
    }, state.delayS * 1000);
  }

  // -- fleet: which board is silent or sick? ---------------------------------------

  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) { return s + " s ago"; }
    if (s < 7200) { return Math.round(s / 60) + " min ago"; }
    if (s < 172800) { return Math.round(s / 3600) + " h ago"; }
    return Math.round(s / 86400) + " days ago";
  }

  var FLEET_COLS = [["heap_free_bytes", "free heap", "B"], ["rssi_dbm", "RSSI", " dBm"],
                    ["reset_cause", "reset cause", ""], ["spool_points", "spool", ""],
                    ["dropped", "dropped", ""]];

  function loadFleet() {
    return api("/api/fleet").then(function (hosts) {
      var tbody = $("fleet").tBodies[0];
      tbody.textContent = "";
      var silent = 0;
      hosts.forEach(function (h) {
        var tr = document.createElement("tr");
        tr.className = h.silent ? "silent" : "";
        tr.setAttribute("data-host", h.host);
        if (h.silent) { silent += 1; }
        var cells = [h.host, h.silent ? "silent" : "ok", ago(h.last_seen_ms),
                     String(h.points_per_hour), h.interval_s === null ? "-" : h.interval_s + " s"];
        FLEET_COLS.forEach(function (c) {
          var v = h.health[c[0]];
          cells.push(v === undefined ? "-" : c[2] === "B" ? fmt(v, "B") : v + c[2]);
        });
        cells.forEach(function (c) {
          var td = document.createElement("td");
          td.textContent = c;
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
      $("fleet-summary").textContent = hosts.length + " device(s), " + silent +
        " silent for more than 3 of their usual intervals";
      setStatus("updated " + new Date().toLocaleTimeString() + slowNote(), false);
    });
  }

  // -- overview: every metric as a small chart, asked one after the other -----------

  function sparkline(metric, results) {
    var w = 300, h = 70, t1 = Date.now(), t0 = t1 - RANGES_S[state.range] * 1000;
    var lo = Infinity, hi = -Infinity, lines = [];
    results.forEach(function (r) {
      var pts = Object.keys(r.dps).map(function (k) { return [Number(k), r.dps[k]]; })
        .filter(function (p) { return p[1] !== null; })
        .sort(function (a, b) { return a[0] - b[0]; });
      pts.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
      lines.push(pts);
    });
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 1; hi += 1; }
    var svg = el("svg", { viewBox: "0 0 " + w + " " + h, width: "100%", role: "img",
                          "aria-label": "small chart of " + metric });
    lines.forEach(function (pts, i) {
      if (!pts.length) { return; }
      var d = pts.map(function (p, j) {
        return (j ? "L" : "M") + ((p[0] - t0) / (t1 - t0) * w).toFixed(1) + " " +
          (4 + (hi - p[1]) / (hi - lo) * (h - 8)).toFixed(1);
      }).join(" ");
      svg.appendChild(el("path", { d: d, stroke: COLOURS[i % COLOURS.length], "class": "spark" }));
      if (pts.length === 1) {  // a lone reading is a dot, not an invisible line
        var p = pts[0];
        svg.appendChild(el("circle", { cx: (p[0] - t0) / (t1 - t0) * w,
                                       cy: 4 + (hi - p[1]) / (hi - lo) * (h - 8), r: 3,
                                       fill: COLOURS[i % COLOURS.length] }));
      }
    });
    return svg;
  }

  // One pass over the small charts at a time (each asked one after the other): a range
  // change or a refresh asked for meanwhile runs once, after it, as refresh() does.
  function loadOverview() {
    if (state.ovBusy) { state.ovAgain = true; return state.ovBusy; }
    state.ovBusy = overviewPass().then(function () {
      state.ovBusy = null;
      if (state.ovAgain) { state.ovAgain = false; return loadOverview(); }
    }, function (e) {
      state.ovBusy = null;
      state.ovAgain = false;
      throw e;
    });
    return state.ovBusy;
  }

  function overviewPass() {
    var grid = $("overview");
    var names = Array.prototype.map.call(document.querySelectorAll("#metrics button"),
      function (b) { return b.getAttribute("data-metric"); }).filter(matches).slice(0, 60);
    var chain = Promise.resolve();
    names.forEach(function (name) {
      var id = "ov-" + name;
      var card = document.getElementById(id);
      if (!card) {
        card = document.createElement("figure");
        card.id = id;
        card.className = "card";
        var cap = document.createElement("figcaption");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = name;
        b.addEventListener("click", function () { show("chart"); pick(name, ""); });
        cap.appendChild(b);
        card.appendChild(cap);
        card.appendChild(document.createElement("div"));
        grid.appendChild(card);
      }
      chain = chain.then(function () {
        var sub = { metric: name, aggregator: "none" };
        var ds = downsampleFor(RANGES_S[state.range]);
        if (ds) { sub.downsample = ds; }
        return api("/api/query", { start: state.range + "-ago", msResolution: true,
                                   queries: [sub] }).then(function (results) {
          var box = card.lastChild;
          box.textContent = "";
          box.appendChild(sparkline(name, results));
          card.setAttribute("data-series", String(results.length));
        });
      });
    });
    return chain.then(function () {
      setStatus("updated " + new Date().toLocaleTimeString() + slowNote(), false);
    });
  }

  function show(view) {
    state.view = view;
    $("chart-view").hidden = view !== "chart";
    $("fleet-view").hidden = view !== "fleet";
    $("overview-view").hidden = view !== "overview";
    Array.prototype.forEach.call(document.querySelectorAll("#views button"), function (b) {
      b.className = b.getAttribute("data-view") === view ? "on" : "";
    });
    writeHash();
    if (view === "fleet") { return loadFleet(); }
    if (view === "overview") { return loadOverview(); }
    return refresh();
  }

  function start() {
    readHash();
    $("range").value = state.range;
    $("range").addEventListener("change", function () {
      state.range = this.value; state.rangeChosen = true; writeHash();
      (state.view === "overview" ? loadOverview() : refresh()).catch(function (e) {
        setStatus(String(e.message || e), true);
      });
    });
    $("refresh").addEventListener("change", function () {
      state.refresh = Number(this.value); state.delayS = state.refresh; schedule();
    });
    Array.prototype.forEach.call(document.querySelectorAll("#views button"), function (b) {
      b.addEventListener("click", function () {
        show(b.getAttribute("data-view")).catch(function (e) {
          setStatus(String(e.message || e), true);
        });
      });
    });
    if ($("filter")) { $("filter").addEventListener("input", applyFilter); }
    $("series").addEventListener("change", function () {
      state.series = this.value; writeHash(); refresh();
    });
    loadMetrics().then(function () {
      if (state.view !== "chart") { return show(state.view); }
      if (state.metric) { return pick(state.metric, state.series); }
    }).catch(function (e) { setStatus(String(e.message || e), true); });
    schedule();
  }

  start();
}());
