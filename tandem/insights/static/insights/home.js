/* Role home pages: the charts (Apache ECharts, served by Tandem) from the JSON in #home-data,
   the same numbers as the tables beside them; and the hand-offs' SLA countdowns. */
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("home-data");
    if (!node || !window.echarts) { return; }
    var data = JSON.parse(node.textContent);
    var charts = [];
    data.charts.forEach(function (spec) {
      var el = document.getElementById(spec.id);
      if (!el || !spec.categories.length) { return; }
      var pct = function (v) { return (100 * v).toFixed(0) + "%"; };
      var value = spec.percent ? { type: "value", axisLabel: { formatter: pct } } : { type: "value", minInterval: 1 };
      var chart = window.echarts.init(el);
      chart.setOption({
        tooltip: { trigger: "axis", valueFormatter: spec.percent ? pct : undefined },
        grid: { left: 160, right: 30, top: 10, bottom: 30 },
        xAxis: value,
        yAxis: { type: "category", data: spec.categories, inverse: true },
        series: spec.series.map(function (s) {
          return { name: s.name, type: "bar", data: s.data, label: { show: true, position: "right",
            formatter: function (p) { return spec.percent ? pct(p.value || 0) : p.value; } } };
        })
      });
      charts.push(chart);
      el.setAttribute("data-chart", "ready");
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.body.setAttribute("data-charts", "ready");
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-due")) - now) / 1000);
      var sign = left < 0 ? "−" : "";
      var s = Math.abs(left);
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      el.textContent = sign + h + ":" + pad(m) + ":" + pad(sec);
      el.classList.toggle("error", left < 0);
    });
  }
  function start() { draw(); tick(); window.setInterval(tick, 1000); }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }
})();
