/* Attribution charts (Apache ECharts, served by Tandem). Data: the JSON in #attribution-data. */
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("attribution-data");
    if (!node || !window.echarts) { return; }
    var data = JSON.parse(node.textContent);
    var pct = function (v) { return (100 * v).toFixed(1) + "%"; };

    var channel = data.channel.slice().reverse();
    var chChart = window.echarts.init(document.getElementById("chart-channel"));
    chChart.setOption({
      grid: { left: 120, right: 30, top: 10, bottom: 30 },
      tooltip: { trigger: "axis", valueFormatter: pct },
      xAxis: { type: "value", axisLabel: { formatter: pct } },
      yAxis: { type: "category", data: channel.map(function (r) { return r.name; }) },
      series: [
        { name: data.labels.share, type: "bar", data: channel.map(function (r) { return r.share; }) },
        {
          name: data.labels.interval, type: "custom",
          renderItem: function (params, api) {
            var lo = api.coord([api.value(0), api.value(2)]);
            var hi = api.coord([api.value(1), api.value(2)]);
            return { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] },
                     style: { stroke: "#333", lineWidth: 2 } };
          },
          data: channel.filter(function (r) { return r.lower !== null; })
            .map(function (r) { return [r.lower, r.upper, r.name]; }),
          encode: { x: [0, 1], y: 2 }, z: 10
        }
      ]
    });

    var depChart = window.echarts.init(document.getElementById("chart-department"));
    depChart.setOption({
      tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + pct(p.value); } },
      series: [{ type: "pie", radius: ["40%", "70%"],
                 label: { formatter: function (p) { return p.name + " " + pct(p.value); } },
                 data: data.department.map(function (r) { return { name: r.name, value: r.share }; }) }]
    });

    var models = Object.keys(data.models);
    var names = data.channel.map(function (r) { return r.name; });
    var modChart = window.echarts.init(document.getElementById("chart-models"));
    modChart.setOption({
      legend: { data: models },
      tooltip: { trigger: "axis", valueFormatter: pct },
      grid: { left: 50, right: 20, top: 40, bottom: 60 },
      xAxis: { type: "category", data: names, axisLabel: { rotate: 30 } },
      yAxis: { type: "value", axisLabel: { formatter: pct } },
      series: models.map(function (m) {
        return { name: m, type: "bar", data: names.map(function (n) { return data.models[m][n] || 0; }) };
      })
    });
    window.addEventListener("resize", function () { chChart.resize(); depChart.resize(); modChart.resize(); });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
