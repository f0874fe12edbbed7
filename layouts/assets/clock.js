// The header clock ticks in the browser: no request to the server for it.
(function () {
  // The weekday in the page's language (<html lang>), as the server wrote it: "Thứ Hai", "Monday".
  const two = (n) => String(n).padStart(2, "0");
  function tick() {
    const el = document.getElementById("clock");
    if (el) {
      const lang = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
      const day = new Intl.DateTimeFormat(lang, { weekday: "long", timeZone: "Asia/Ho_Chi_Minh" }).format(new Date());
      const now = new Date(new Date().toLocaleString("en-US", { timeZone: "Asia/Ho_Chi_Minh" }));
      el.textContent = `${day} ${two(now.getDate())}/${two(now.getMonth() + 1)}/${now.getFullYear()} ${two(now.getHours())}:${two(now.getMinutes())}`;
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
})();
