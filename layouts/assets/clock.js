// The header clock ticks in the browser: no request to the server for it.
(function () {
  const days = ["Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"];
  const two = (n) => String(n).padStart(2, "0");
  function tick() {
    const el = document.getElementById("clock");
    if (el) {
      const now = new Date(new Date().toLocaleString("en-US", { timeZone: "Asia/Ho_Chi_Minh" }));
      el.textContent = `${days[now.getDay()]} ${two(now.getDate())}/${two(now.getMonth() + 1)}/${now.getFullYear()} ${two(now.getHours())}:${two(now.getMinutes())}`;
    }
  }
  setInterval(tick, 1000);
})();
