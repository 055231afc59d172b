// The buyer's viewer: counts seconds on the page shown and sends them to Tandem (a beacon every
// 10 s, on page change and when the tab is hidden). Nothing but the random visit id is sent.
(function () {
  var box = document.getElementById("viewer");
  if (!box) return;
  var visit = box.dataset.visit, pages = parseInt(box.dataset.pages, 10) || 1, url = box.dataset.ping;
  var frame = document.getElementById("doc"), label = document.getElementById("page-number");
  var page = 1, since = Date.now();
  function send() {
    var seconds = Math.round((Date.now() - since) / 1000);
    since = Date.now();
    if (seconds < 1) return;
    var body = new URLSearchParams({ visit: visit, page: String(page), seconds: String(seconds) });
    if (navigator.sendBeacon) navigator.sendBeacon(url, body);
    else fetch(url, { method: "POST", body: body, keepalive: true });
  }
  function go(next) {
    if (next < 1 || next > pages || next === page) return;
    send();
    page = next;
    label.textContent = String(page);
    frame.src = frame.dataset.src + "#page=" + page;
  }
  document.getElementById("prev-page").addEventListener("click", function () { go(page - 1); });
  document.getElementById("next-page").addEventListener("click", function () { go(page + 1); });
  document.addEventListener("visibilitychange", function () { if (document.hidden) send(); else since = Date.now(); });
  window.addEventListener("pagehide", send);
  setInterval(function () { if (!document.hidden) send(); }, 10000);
})();
