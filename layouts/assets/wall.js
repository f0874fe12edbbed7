// The wall's care for a screen that runs for days (only on /wall, configured by #wall-config):
// night dimming, a small periodic shift of the whole layout against burn-in, and a daily soft
// reload that only happens when the server answers (a wall never lands on a browser error page).
(function () {
  "use strict";
  const CHECK_MS = 1000;
  const state = { config: null, loadedAt: Date.now(), shiftAt: Date.now(), step: 0, reloading: false };
  // The shift walks a small square around the origin, one step each time.
  const STEPS = [[0, 0], [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1]];

  function config() {
    const el = document.getElementById("wall-config");
    return el ? JSON.parse(el.dataset.config) : null;
  }
  // Seconds since midnight in Tây Ninh (UTC+7, no daylight saving), whatever the machine's zone.
  function localSeconds(ms) {
    const d = new Date(ms + 7 * 3600 * 1000);
    return d.getUTCHours() * 3600 + d.getUTCMinutes() * 60 + d.getUTCSeconds();
  }
  function seconds(hhmmss) {
    const [h, m, s] = hhmmss.split(":").map(Number);
    return h * 3600 + m * 60 + (s || 0);
  }
  function night(cfg, now) {
    const t = localSeconds(now), from = seconds(cfg.dim_from), to = seconds(cfg.dim_to);
    if (cfg.dim_brightness >= 1 || from === to) return false;
    return from < to ? t >= from && t < to : t >= from || t < to;  // across midnight
  }
  // The first moment at the reload time after ``since``.
  function nextReload(cfg, since) {
    const dayMs = 86400 * 1000;
    const target = seconds(cfg.reload_at);
    let at = since - localSeconds(since) * 1000 - (since % 1000) + target * 1000;
    if (at <= since) at += dayMs;
    return at;
  }
  async function softReload() {
    state.reloading = true;
    try {
      const reply = await fetch("/api/v1/healthz", { cache: "no-store" });
      if (reply.ok) { location.reload(); return; }
    } catch (err) { /* the server is away: keep showing what we have and try again */ }
    state.retryAt = Date.now() + 60 * 1000;
    state.reloading = false;
  }

  function tick() {
    const cfg = state.config || (state.config = config());
    const wall = document.querySelector(".wall");
    if (!cfg || !wall) return;
    const now = Date.now();
    document.body.classList.toggle("wall-night", night(cfg, now));
    wall.style.setProperty("--dim", cfg.dim_brightness);
    if (cfg.shift_px > 0 && now - state.shiftAt >= cfg.shift_every_s * 1000) {
      state.shiftAt = now;
      state.step = (state.step + 1) % STEPS.length;
      wall.style.setProperty("--shift-x", `${STEPS[state.step][0] * cfg.shift_px}px`);
      wall.style.setProperty("--shift-y", `${STEPS[state.step][1] * cfg.shift_px}px`);
      wall.dataset.shift = String(state.step);
    }
    if (cfg.reload_at && !state.reloading) {
      const due = state.retryAt ? now >= state.retryAt : now >= nextReload(cfg, state.loadedAt);
      if (due) softReload();
    }
  }
  setInterval(tick, CHECK_MS);
  window.ioc_wall = { state, night, nextReload };
})();
