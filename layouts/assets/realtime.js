// One websocket per screen to the IOC relay: snapshot on (re)connect, then deltas and health.
// Messages are handed to Dash through the "rt-message" store; panels apply them with Patch in
// clientside callbacks (ioc_rt.apply below). Nothing here polls the server on a timer: the
// 1-second timer only re-ages the freshness badges from the last health message.
(function () {
  "use strict";
  // The maps are Plotly's geo maps drawing only this server's GeoJSON, on nothing ("visible":
  // false), yet Plotly fetches its world outline from its CDN for any trace naming a location
  // mode. An empty world, where Plotly keeps the ones it fetched: nothing is asked of anyone.
  const geoAssets = (window.PlotlyGeoAssets = window.PlotlyGeoAssets || { topojson: {} });
  geoAssets.topojson.world_110m = { type: "Topology", objects: {}, arcs: [] };
  const MIN_DELAY_MS = 1000;
  // Capped low so a restarted relay is back on every screen within 5 s; a refused connection
  // costs the relay nothing, and the token is fetched again at most every TOKEN_REUSE_MS.
  const MAX_DELAY_MS = 4000;
  const TOKEN_REUSE_MS = 30000;
  const state = { docs: {}, health: {}, alerts: {}, skewMs: 0, connected: false, attempts: 0, socket: null, config: null, snapshots: 0, deltas: 0 };

  function config() {
    const el = document.getElementById("rt-config");
    return el ? JSON.parse(el.dataset.config) : null;
  }
  // The page's language: t("Vietnamese {name}", {name}) gives the English of the catalog when the
  // page is in English (its config carries the translations this script needs).
  function t(text, vars) {
    const cfg = state.config || config();
    const said = (cfg && cfg.strings && cfg.strings[text]) || text;
    return said.replace(/\{(\w+)\}/g, (_m, key) => (vars && key in vars ? vars[key] : `{${key}}`));
  }
  const locale = () => ((state.config || config() || {}).lang === "en" ? "en-GB" : "vi-VN");

  function relayUrl(cfg, token) {
    const base = cfg.url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:${cfg.port}/`;
    return `${base}${base.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
  }

  async function freshToken(cfg) {
    if (state.tokenAt && Date.now() - state.tokenAt < TOKEN_REUSE_MS) return cfg.token;
    try {
      const reply = await fetch("/realtime/token", { cache: "no-store" });
      if (reply.status === 401) {  // the login has run out: the login page, and back here after
        window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      }
      if (reply.ok) { cfg.token = (await reply.json()).token; state.tokenAt = Date.now(); }
    } catch (err) { /* the web app may be down too: try the token we have */ }
    return cfg.token;
  }

  function backoff() {
    // Jittered exponential backoff: 1 s, 2 s, then 4 s, each drawn from [d/2, d].
    const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** state.attempts);
    state.attempts += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function deliver(message) {
    if (message.server_time) state.skewMs = Date.parse(message.server_time) - Date.now();
    if (message.type === "health") { state.health = message.feeds; renderBadges(); return; }
    if (message.type === "snapshot") { state.snapshots += 1; state.health = message.health || {}; renderBadges(); }
    if (message.type === "delta") state.deltas += 1;
    // Remembered here, for every message: Dash may hand a clientside callback only the last of
    // two messages set in quick succession (a snapshot then a delta), and a snapshot lost that way
    // would leave the panels without the units the delta did not change.
    remember(message);
    if (message.type === "snapshot") {
      for (const [feed, body] of Object.entries(message.feeds)) state.alerts[feed] = body.alerts || [];
      renderAlerts();
    } else if (message.alerts) { state.alerts[message.feed] = message.alerts; renderAlerts(); }
    renderLiveValues();
    if (window.dash_clientside && window.dash_clientside.set_props) handOver(message);
  }

  // A page whose store starts a request to the server (config.served: a room, the health board,
  // the scorecard) hands it one message at a time. Dash drops a callback's answer when the same
  // callback is asked again before it has answered (plotly/dash#943): pushes arriving faster than
  // the server answers would keep every answer off the screen, the person's own search or choice
  // included. While a request is in flight the newest message waits, standing for every feed of
  // those it replaced ("for_feeds"), and goes when the page is idle (or after HOLD_MAX_MS).
  const HOLD_MAX_MS = 60000;  // a request in flight longer than a minute is stuck: go anyway
  const SETTLE_MS = 250;  // Dash shows a request as in flight a moment after it is asked for
  function handOver(message) {
    const store = (state.config && state.config.store) || "rt-message";
    if (!(state.config && state.config.served)) {
      window.dash_clientside.set_props(store, { data: message });
      return;
    }
    const feeds = new Set(state.held ? state.held.for_feeds : []);
    if (message.feed) feeds.add(message.feed);
    if (message.type === "snapshot") Object.keys(message.feeds || {}).forEach((f) => feeds.add(f));
    state.held = Object.assign({}, message, { for_feeds: [...feeds] });
    state.heldSince = state.heldSince || Date.now();
    flush(store);
  }
  function flush(store) {
    if (!state.held) return;
    const busy = document.querySelector("._dash-loading-callback") || Date.now() - (state.sentAt || 0) < SETTLE_MS;
    if (busy && Date.now() - state.heldSince < HOLD_MAX_MS) {
      if (!state.flushTimer) state.flushTimer = setTimeout(() => { state.flushTimer = null; flush(store); }, 100);
      return;
    }
    const message = state.held;
    state.held = null;
    state.heldSince = 0;
    state.sentAt = Date.now();
    state.handed = (state.handed || 0) + 1;
    window.dash_clientside.set_props(store, { data: message });
  }

  async function connect() {
    const cfg = state.config || (state.config = config());
    if (!cfg) return;
    const token = state.attempts === 0 ? cfg.token : await freshToken(cfg);
    const socket = new WebSocket(relayUrl(cfg, token));
    state.socket = socket;
    socket.onopen = () => {
      state.connected = true;
      state.attempts = 0;
      socket.send(JSON.stringify({ type: "subscribe", feeds: cfg.feeds, units: cfg.units, series: cfg.series }));
      document.body.classList.remove("rt-offline");
    };
    socket.onmessage = (event) => deliver(JSON.parse(event.data));
    socket.onclose = (event) => {
      // 4401: the session ended or its role is due for a re-check; the web app says which
      // (a fresh token, or the login page), so the token in hand is not tried again.
      if (event.code === 4401) state.tokenAt = 0;
      state.connected = false;
      document.body.classList.add("rt-offline");
      setTimeout(connect, backoff());
    };
  }

  // ---- freshness badges: "Số liệu lúc HH:MM", amber then red as the feed ages ----
  const two = (n) => String(n).padStart(2, "0");
  function localTime(iso) {
    const d = new Date(new Date(iso).toLocaleString("en-US", { timeZone: "Asia/Ho_Chi_Minh" }));
    return `${two(d.getHours())}:${two(d.getMinutes())} ${two(d.getDate())}/${two(d.getMonth() + 1)}`;
  }
  function renderBadges() {
    const cfg = state.config;
    if (!cfg) return;
    const now = Date.now() + state.skewMs;
    document.querySelectorAll(".fresh-badge").forEach((badge) => {
      const feed = state.health[badge.dataset.feed];
      const at = feed && feed.last_success_at;
      badge.classList.remove("fresh-ok", "fresh-amber", "fresh-red");
      if (!at) { badge.textContent = t("Chưa có số liệu"); badge.classList.add("fresh-red"); return; }
      const age = (now - Date.parse(at)) / 1000;
      const level = age > cfg.red_s ? "red" : age > cfg.amber_s ? "amber" : "ok";
      badge.classList.add(`fresh-${level}`);
      const minutes = Math.floor(age / 60);
      const late = level === "ok" ? "" : level === "red" ? t(" · ngừng {m} phút", { m: minutes }) : t(" · trễ {m} phút", { m: minutes });
      badge.textContent = t("Số liệu lúc {time}", { time: localTime(at) }) + late;
      badge.title = feed.last_error ? t("Lỗi gần nhất: {error}", { error: feed.last_error }) : "";
    });
  }
  setInterval(renderBadges, 1000);
  // Panels re-rendered by Dash bring new badges: fill them in at once, not at the next tick.
  new MutationObserver((changes) => {
    if (changes.some((c) => Array.from(c.addedNodes).some((n) => n.nodeType === 1 && (n.matches(".fresh-badge") || n.querySelector(".fresh-badge"))))) renderBadges();
  }).observe(document.documentElement, { childList: true, subtree: true });

  // ---- numbers that follow the pushes by themselves (the wall's): data-feed/unit/window/kpi ----
  function renderLiveValues() {
    document.querySelectorAll(".live-value").forEach((el) => {
      const d = el.dataset;
      const raw = kpiValue(d.feed, d.unit, d.window, d.kpi);
      if (raw !== null) el.textContent = valueText(d.kind, raw, true);
    });
  }

  // ---- the alert ticker: every active alert, not yet acknowledged first ----
  function renderAlerts() {
    const all = Object.values(state.alerts).flat();
    all.sort((a, b) => (("acked_by" in a) - ("acked_by" in b)) || b.since.localeCompare(a.since) || a.id.localeCompare(b.id));
    document.querySelectorAll(".alert-ticker").forEach((ticker) => {
      const units = ticker.dataset.units ? new Set(ticker.dataset.units.split(" ")) : null;
      const shown = units ? all.filter((a) => units.has(a.unit)) : all;
      ticker.replaceChildren();
      if (!shown.length) {
        ticker.append(Object.assign(document.createElement("div"), { className: "alert-none", textContent: t("Không có cảnh báo.") }));
        return;
      }
      for (const alert of shown) {
        const item = document.createElement("div");
        const silenced = alert.silenced_until && alert.silenced_until > new Date().toISOString();
        item.className = "alert-item" + (alert.acked_by ? " acked" : "") + (silenced ? " silenced" : "");
        item.dataset.alert = alert.id;
        const text = Object.assign(document.createElement("div"), { className: "alert-text", textContent: `▲ ${alertText(alert)}` });
        const when = Object.assign(document.createElement("div"), { className: "alert-when", textContent: t("từ {time}", { time: localTime(alert.since) }) });
        if (silenced) when.textContent += t(" · đã tạm tắt thông báo đến {time}", { time: localTime(alert.silenced_until) });
        item.append(text, when);
        if (alert.acked_by) {
          when.textContent += t(" · đã xác nhận: {who}, {time}", { who: alert.acked_by, time: localTime(alert.acked_at) });
          if (alert.ack_comment) when.textContent += ` · “${alert.ack_comment}”`;
        } else if (!ticker.classList.contains("read-only") && (state.config || config() || {}).can_ack) {
          const act = Object.assign(document.createElement("div"), { className: "alert-act" });
          const note = Object.assign(document.createElement("input"), { className: "alert-comment", maxLength: 300, placeholder: t("ghi chú (không bắt buộc)") });
          const button = Object.assign(document.createElement("button"), { className: "alert-ack", textContent: t("Xác nhận") });
          button.onclick = () => acknowledge(alert, button, note.value);
          act.append(note, button);
          item.append(act);
        }
        if (!ticker.classList.contains("read-only")) {
          const link = Object.assign(document.createElement("a"), { className: "alert-history", textContent: t("lịch sử") });
          link.href = `/alerts/history?feed=${encodeURIComponent(alert.feed)}&id=${encodeURIComponent(alert.id)}`;
          when.append(" · ", link);
        }
        ticker.append(item);
      }
      if (ticker.classList.contains("wall-ticker")) scrollTicker(ticker);
    });
  }
  // As layouts/alert_text.py writes it: "Huyện Tân Biên: đúng hạn 7 ngày 86,5% < 90%", the rule's
  // title from the page's config (its language), the unit's name from the alert.
  function alertText(alert) {
    const titles = (state.config || config() || {}).alert_titles || {};
    return `${alert.unit_name || alert.unit}: ${titles[alert.rule] || alert.rule} ${alertCondition(alert)}`;
  }
  function alertCondition(alert) {
    const value = Number(alert.value), threshold = Number(alert.threshold);
    if (alert.kind === "stale") {
      if (value < 0) return t("chưa từng có số liệu");
      return t("{m} phút (ngưỡng {limit} phút)", { m: Math.trunc(value), limit: String(threshold) });
    }
    const sign = alert.comparison === "below" ? "<" : ">";
    if (alert.kind === "kpi" && String(alert.kpi || "").endsWith("rate")) {
      return `${vi(1).format(value * 100)}% ${sign} ${vi(0).format(threshold * 100)}%`;
    }
    return `${vi(0).format(value)} ${sign} ${vi(0).format(threshold)}`;
  }
  // A wall ticker longer than its frame glides to its end and back, at a pace one can read.
  function scrollTicker(ticker) {
    const overflow = ticker.scrollWidth - ticker.parentElement.clientWidth;
    ticker.classList.toggle("scrolling", overflow > 0);
    ticker.style.setProperty("--ticker-shift", `${Math.max(0, overflow)}px`);
    ticker.style.setProperty("--ticker-s", `${Math.max(8, overflow / 60)}s`);
  }
  async function acknowledge(alert, button, comment) {
    button.disabled = true;  // who acknowledges is the person logged in (the server knows)
    const reply = await fetch("/api/v1/alerts/ack", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ feed: alert.feed, id: alert.id, comment: (comment || "").trim() }),
    });
    if (!reply.ok) { button.disabled = false; button.title = (await reply.json()).error || reply.statusText; }
    // On success the relay brings the acknowledgement to every screen, this one included.
  }
  new MutationObserver((changes) => {
    if (changes.some((c) => Array.from(c.addedNodes).some((n) => n.nodeType === 1 && (n.matches(".alert-ticker") || n.querySelector(".alert-ticker"))))) renderAlerts();
  }).observe(document.documentElement, { childList: true, subtree: true });

  // ---- applying messages to panels, called from clientside callbacks ----
  // As layouts/format.py writes them: 1.234,5 (1,234.5 in English); with ``compact`` (tiles, the
  // wall) a million and more in words, "1,2 triệu".
  const formats = {};
  function vi(digits, compact) {
    const key = `${locale()}|${digits}|${compact ? 1 : 0}`;
    return formats[key] || (formats[key] = new Intl.NumberFormat(locale(), compact
      ? { notation: "compact", compactDisplay: "long", maximumFractionDigits: 1 }
      : { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  // A list (hotspots) counts its items, a breakdown (doses by dose number) sums, as in figures.py.
  function scalar(kind, value) {
    if (value === null || value === undefined) return null;
    if (kind === "list") return value.length;
    if (kind === "breakdown") return Object.values(value).reduce((a, b) => a + b, 0);
    return value;
  }
  function valueText(kind, raw, compact) {
    const value = scalar(kind, raw);
    if (value === null) return "–";
    if (kind === "rate") return `${vi(1).format(value * 100)}%`;
    const big = compact && Math.abs(value) >= 1e6;
    if (kind === "mean") return vi(2, big).format(value);
    if (kind === "sum") return vi(1, big).format(value);
    return vi(0, big).format(value);
  }
  function shown(kind, raw) {
    const value = scalar(kind, raw);
    return value === null ? null : kind === "rate" ? value * 100 : value;
  }
  function remember(message) {
    const feeds = message.type === "snapshot" ? message.feeds : { [message.feed]: message };
    for (const [feed, body] of Object.entries(feeds)) {
      state.docs[feed] = Object.assign(state.docs[feed] || {}, body.kpis || {});
    }
  }
  // A KPI by name, or by path for nested ones ("by_vaccine/<vaccine>/<kpi>").
  function kpiValue(feed, unit, window, kpi) {
    let node = (state.docs[feed] || {})[`${unit}|${window}`];
    for (const part of kpi.split("/")) node = node ? node[part] : undefined;
    return node && node.value !== undefined ? node.value : null;
  }

  // Plotly reads a date string as wall-clock time and ignores its offset, so every x value is
  // written in Tây Ninh's time (UTC+7, no daylight saving), as the server writes them.
  function localIso(ms) {
    return `${new Date(ms + 7 * 3600 * 1000).toISOString().slice(0, 19)}+07:00`;
  }

  function seriesPatch(cfg, message) {
    const dc = window.dash_clientside;
    const body = message.type === "snapshot" ? message.feeds[cfg.feed] : message;
    const doc = body && body.series ? body.series[cfg.province] : null;
    if (!doc) return dc.no_update;
    const patch = new dc.Patch();
    const measures = cfg.measures || ["received", "resolved"];  // trace i draws measures[i]
    if (message.type === "snapshot") {
      const start = Date.parse(doc.start);
      const xs = doc[measures[0]].map((_, i) => localIso(start + i * doc.step_s * 1000));
      measures.forEach((m, k) => patch.assign(["data", k, "x"], xs).assign(["data", k, "y"], doc[m]));
      state.seriesStart = start; state.seriesLength = xs.length;
    } else if (state.seriesStart === undefined) {
      return dc.no_update;  // the snapshot it builds on has not been applied (see deliver)
    } else {
      doc.t.forEach((t, i) => {
        const index = Math.round((Date.parse(t) - state.seriesStart) / 3600000);
        if (index < state.seriesLength) {
          measures.forEach((m, k) => patch.assign(["data", k, "y", index], doc[m][i]));
        } else {
          const x = localIso(Date.parse(t));
          measures.forEach((m, k) => patch.append(["data", k, "x"], x).append(["data", k, "y"], doc[m][i]));
          state.seriesLength += 1;
        }
      });
    }
    if (body.meta && body.meta.as_of) patch.assign(["layout", "shapes", 0, "x1"], body.meta.as_of);
    return patch.build();
  }

  function rankingTable(cfg, kpi, window) {
    const info = cfg.kpis[kpi];
    const rows = cfg.codes.map((code) => [code, kpiValue(cfg.feed, code, window, kpi)]);
    const num = (raw) => scalar(info.kind, raw);
    rows.sort((a, b) => (num(a[1]) === null) - (num(b[1]) === null) || (info.higher_is_better ? num(b[1]) - num(a[1]) : num(a[1]) - num(b[1])));
    const cell = (children, className) => ({ type: "Td", namespace: "dash_html_components", props: { children, className } });
    const body = rows.map(([code, value], i) => ({
      type: "Tr", namespace: "dash_html_components",
      props: { children: [cell(String(i + 1), "rank"), cell(cfg.links ? link(cfg, code) : cfg.names[code]), cell(approx(cfg, code, valueText(info.kind, value)), `num ${stateClass(info, num(value), code)}`)] },
    }));
    return { type: "Table", namespace: "dash_html_components", props: { className: "ranking", children: { type: "Tbody", namespace: "dash_html_components", props: { children: body } } } };
  }
  function approx(cfg, code, text) {  // as approximate_text in province.py
    return (cfg.approximate || []).includes(code) && text !== "–" ? `≈\u00a0${text}` : text;
  }
  function link(cfg, code) {  // as the server renders it: the unit's name opens its room
    const href = `${cfg.links}${code}${cfg.feed === "public_services" ? "" : `?feed=${cfg.feed}`}`;
    return { type: "Link", namespace: "dash_core_components", props: { children: cfg.names[code], href, refresh: true } };
  }
  function stateClass(info, value, code) {  // as tile_state in figures.py, against the unit's target
    const own = info.unit_targets || {};
    const target = code in own ? own[code] : info.target;
    if (value === null || value === undefined || target === null) return "neutral";
    const gap = info.higher_is_better ? value - target : target - value;
    return gap >= 0 ? "ok" : gap > -0.05 ? "warn" : "bad";
  }

  window.ioc_rt = {
    state,
    alertText,  // for tests/test_alerts.py: the same words as layouts/alert_text.py
    // A click on a unit's polygon opens its room with the same feed. ``rooms``: trace number ->
    // the rooms its units open ("/area/"; none: a click on that trace opens nothing, as on the
    // report dots, which have no location).
    openRoom: function (click, feed, rooms) {
      const point = click && click.points && click.points[0];
      const prefix = point && point.location ? rooms[point.curveNumber] : "";
      if (prefix) {
        window.location.assign(`${prefix}${point.location}${feed === "public_services" ? "" : `?feed=${feed}`}`);
      }
      return window.dash_clientside.no_update;
    },
    apply: function (message, kpi, window_, tileIds) {
      const dc = window.dash_clientside;
      const cfg = state.config || (state.config = config());
      if (!message || !cfg) return [dc.no_update, dc.no_update, tileIds.map(() => dc.no_update), dc.no_update];
      if (message.type === "delta" && message.feed !== cfg.feed) {  // another feed's: its alerts only
        return [dc.no_update, dc.no_update, tileIds.map(() => dc.no_update), dc.no_update];
      }
      const info = cfg.kpis[kpi];
      const map = new dc.Patch();
      const mapCodes = cfg.map_codes || cfg.codes;  // none: a reference map, nothing to recolour
      mapCodes.forEach((code, i) => map.assign(["data", 0, "z", i], shown(info.kind, kpiValue(cfg.feed, code, window_, kpi))));
      const tiles = tileIds.map((id) => (cfg.kpis[id.kpi] ? valueText(cfg.kpis[id.kpi].kind, kpiValue(cfg.feed, cfg.province, window_, id.kpi), true) : dc.no_update));
      return [mapCodes.length ? map.build() : dc.no_update, seriesPatch(cfg, message), tiles, rankingTable(cfg, kpi, window_)];
    },
  };

  // Dash renders the layout after the page loads: start once the config element is there.
  function start() {
    if (config()) connect();
    else setTimeout(start, 100);
  }
  start();
})();
