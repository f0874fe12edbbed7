// The header clock ticks in the browser: no request to the server for it.
(function () {
  // The weekday in the page's language (<html lang>), as the server wrote it: "Thứ Hai", "Monday".
  // Formats are made once (each costs the page several milliseconds), then used every second.
  const formats = {};
  function format(lang) {
    return formats[lang] || (formats[lang] = new Intl.DateTimeFormat(lang, {
      weekday: "long", day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Asia/Ho_Chi_Minh",
    }));
  }
  function tick() {
    const el = document.getElementById("clock");
    if (el) {
      const lang = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
      const part = Object.fromEntries(format(lang).formatToParts(new Date()).map((p) => [p.type, p.value]));
      el.textContent = `${part.weekday} ${part.day}/${part.month}/${part.year} ${part.hour}:${part.minute}`;
    }
  }
  // The language toggle keeps the page's state (the address's other parameters) when followed.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.lang-toggle");
    if (!link) return;
    const url = new URL(window.location.href);
    url.searchParams.set("lang", link.dataset.lang);
    link.href = url.toString();
  }, true);
  setInterval(tick, 1000);

  // The header's time control (layouts/past.py): Dash has no date-and-time field, so the browser's
  // own is drawn into its box, in a plain form that opens the same room at the instant picked.
  function timeControls() {
    document.querySelectorAll(".time-control-box:empty").forEach((box) => {
      const d = box.dataset;
      const form = document.createElement("form");
      form.action = d.path;
      form.method = "get";
      form.className = d.past ? "time-control past" : "time-control";
      const label = document.createElement("label");
      label.htmlFor = "at-field";
      label.className = "at-label";
      label.textContent = d.label;
      const field = document.createElement("input");
      Object.assign(field, { type: "datetime-local", id: "at-field", name: "at", required: true, value: d.value, max: d.max, className: "at-field" });
      form.append(label, field);
      for (const [name, value] of Object.entries(JSON.parse(d.keep || "{}"))) {
        const kept = document.createElement("input");
        Object.assign(kept, { type: "hidden", name, value });
        form.append(kept);
      }
      const go = document.createElement("button");
      Object.assign(go, { type: "submit", className: "at-go", textContent: d.go });
      form.append(go);
      box.append(form);
    });
  }
  new MutationObserver(timeControls).observe(document.documentElement, { childList: true, subtree: true });
})();
