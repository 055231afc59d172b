/* Cockpit charts (Apache ECharts, served by Tandem). Data: the JSON in #cockpit-data; the
   tables beside the charts hold the same numbers. */
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("cockpit-data");
    if (!node || !window.echarts) { return; }
    var data = JSON.parse(node.textContent);
    var charts = [];
    var funnelNode = document.getElementById("chart-funnel");
    if (funnelNode) {
      var funnel = window.echarts.init(funnelNode);
      funnel.setOption({
        legend: { data: [data.labels.entered, data.labels.converted] },
        tooltip: { trigger: "axis" },
        grid: { left: 60, right: 20, top: 40, bottom: 30 },
        xAxis: { type: "category", data: data.funnel.map(function (s) { return s.label; }) },
        yAxis: { type: "value" },
        series: [
          { name: data.labels.entered, type: "bar", data: data.funnel.map(function (s) { return s.entered; }) },
          { name: data.labels.converted, type: "bar", data: data.funnel.map(function (s) { return s.converted; }) }
        ]
      });
      charts.push(funnel);
    }
    var creditNode = document.getElementById("chart-credit");
    if (creditNode && data.credit.length) {
      var pct = function (v) { return (100 * v).toFixed(1) + "%"; };
      var credit = window.echarts.init(creditNode);
      credit.setOption({
        tooltip: { trigger: "axis", valueFormatter: pct },
        grid: { left: 100, right: 30, top: 10, bottom: 30 },
        xAxis: { type: "value", axisLabel: { formatter: pct } },
        yAxis: { type: "category", data: data.credit.map(function (r) { return r.name; }) },
        series: [
          { name: data.labels.share, type: "bar", data: data.credit.map(function (r) { return r.share; }) },
          {
            name: data.labels.interval, type: "custom",
            renderItem: function (params, api) {
              var lo = api.coord([api.value(0), api.value(2)]);
              var hi = api.coord([api.value(1), api.value(2)]);
              return { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] },
                       style: { stroke: "#333", lineWidth: 2 } };
            },
            data: data.credit.filter(function (r) { return r.low !== null; })
              .map(function (r) { return [r.low, r.high, r.name]; }),
            encode: { x: [0, 1], y: 2 }, z: 10
          }
        ]
      });
      charts.push(credit);
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
