// A room's map is drawn before its series. Dash mounts every graph of a page in one go, and
// Plotly draws a cartesian graph at once but ends a geo map asynchronously (its GeoJSON): the
// series below the fold, drawn in between, kept the map from the screen some 60 to 90 ms. Here a
// graph in a series panel waits, while a map's first drawing is under way, for it to end and be
// painted; every later drawing of that graph follows in the order Dash asked for them, so the
// last figure (a pushed patch included) is the one shown. Dash's figure, its patches and its
// events are unchanged: only when Plotly draws moves.
(function () {
  "use strict";
  const MAPS = ".map";
  const WAITING = ".series-panel";
  const AT_MOST_MS = 2000; // a map whose first drawing never ends (its GeoJSON hanging) holds it no longer
  const pending = new Set(); // first drawings of maps not yet ended
  const queued = new WeakMap(); // graph div -> the promise of its last drawing asked for

  function later(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // After the next frame is painted; a hidden tab paints none, so at most 100 ms later.
  function painted() {
    return Promise.race([new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))), later(100)]);
  }

  function wrap(Plotly) {
    const react = Plotly.react;
    Plotly.react = function (gd, ...rest) {
      const inside = (selector) => !!(gd && gd.closest && gd.closest(selector));
      if (inside(MAPS) && !gd._iocDrawnOnce) {
        gd._iocDrawnOnce = true;
        const drawing = react.call(this, gd, ...rest);
        const ended = Promise.race([Promise.resolve(drawing).catch(() => undefined), later(AT_MOST_MS)]);
        pending.add(ended);
        ended.then(() => pending.delete(ended));
        return drawing;
      }
      const before = queued.get(gd);
      if (!before && !(inside(WAITING) && pending.size)) return react.call(this, gd, ...rest);
      const after = (before || Promise.all([...pending]).then(painted))
        .catch(() => undefined)
        .then(() => (gd.isConnected ? react.call(Plotly, gd, ...rest) : gd));
      queued.set(gd, after);
      after.finally(() => queued.get(gd) === after && queued.delete(gd)).catch(() => undefined);
      return after;
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.Plotly && typeof window.Plotly.react === "function") wrap(window.Plotly);
  });
})();
