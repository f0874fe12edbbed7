// A panel embedded in Tây Ninh Smart: kept live without Dash, SharedWorker or a service worker
// (Android WebViews may lack them). The relay's websocket says when the feed has new figures;
// the panel then re-reads its public card. When the socket cannot open, or closes, the panel
// polls the card instead and tries the socket again later.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("embed-config").textContent);
  const state = { asOf: cfg.as_of, socket: null, attempts: 0, polls: 0, notices: 0, mode: "starting" };
  window.ioc_embed = state;
  const field = (name) => document.querySelector(`[data-field="${name}"]`);

  function render(card) {
    state.asOf = card.as_of;
    if (field("as_of_text")) field("as_of_text").textContent = card.as_of_text;
    if (field("explanation")) field("explanation").textContent = card.explanation;
    if (cfg.shape === "") {
      const value = field("text");
      value.textContent = card.text;
      value.classList.toggle("hidden", card.hidden);
      field("trend").textContent = card.trend ? `${cfg.strings.last24}: ${card.trend.text}` : "";
    } else if (cfg.shape === "map") {
      card.units.forEach((unit) => {
        const path = document.querySelector(`path[data-code="${unit.code}"]`);
        if (path) { path.setAttribute("fill", unit.fill); path.querySelector("title").textContent = `${unit.name}: ${unit.text}`; }
        const cell = document.querySelector(`td[data-code="${unit.code}"]`);
        if (cell) cell.textContent = unit.text;
      });
    } else if (cfg.shape === "series" && !card.hidden) {
      const bars = document.querySelectorAll('[data-field="bars"] rect');
      const top = Math.max(1e-9, ...card.days.map((d) => d.value || 0));
      card.days.forEach((day, i) => {
        const bar = bars[i];
        if (!bar) return;
        const h = ((day.value || 0) / top) * 110;
        bar.setAttribute("y", (120 - h).toFixed(1)); bar.setAttribute("height", h.toFixed(1));
        bar.querySelector("title").textContent = `${day.label}: ${day.text}`;
      });
      if (field("last")) field("last").textContent = card.days[card.days.length - 1].text;
    }
    freshness();
  }

  // Every number says when it is from; past red_s the feed is shown as stopped.
  function freshness() {
    const age = (Date.now() - Date.parse(state.asOf)) / 1000;
    const label = field("state");
    if (!label) return;
    const stale = !state.asOf || age > cfg.red_s;
    label.textContent = stale ? cfg.strings.stopped : state.mode === "live" ? cfg.strings.live : "";
    label.classList.toggle("stale", stale);
  }

  async function refresh() {
    try {
      const reply = await fetch(cfg.card, { cache: "no-store" });
      if (reply.ok) render(await reply.json());
    } catch (err) { /* offline for a moment: the next notice or poll tries again */ }
  }

  function poll() {
    if (state.mode === "live") return;
    state.polls += 1;
    refresh().finally(() => setTimeout(poll, cfg.poll_s * 1000));
  }

  function connect() {
    let socket;
    try {
      socket = new WebSocket(cfg.relay);
    } catch (err) {
      return fallback();
    }
    state.socket = socket;
    const opening = setTimeout(() => socket.close(), 5000);  // a proxy that never answers
    socket.onopen = () => {
      clearTimeout(opening);
      state.attempts = 0;
      state.mode = "live";
      socket.send(JSON.stringify({ type: "subscribe", feeds: [cfg.feed], units: [], series: [] }));
      freshness();
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "changed") return;
      state.notices += 1;
      const asOf = message.as_of || (message.feeds && message.feeds[cfg.feed] && message.feeds[cfg.feed].as_of);
      if (asOf && asOf !== state.asOf) refresh();
    };
    socket.onclose = () => {
      clearTimeout(opening);
      const wasLive = state.mode === "live";
      fallback();
      if (wasLive) refresh();
    };
  }

  function fallback() {
    const polling = state.mode === "polling";
    state.mode = "polling";
    freshness();
    if (!polling) setTimeout(poll, cfg.poll_s * 1000);
    state.attempts += 1;  // the socket again, later: 2 s, 4 s, ... at most a minute, jittered
    const wait = Math.min(60, 2 ** state.attempts) * (0.5 + Math.random() / 2);
    setTimeout(() => { if (state.mode !== "live") connect(); }, wait * 1000);
  }

  setInterval(freshness, 30000);
  if (cfg.relay && "WebSocket" in window) connect(); else fallback();
  freshness();
})();
