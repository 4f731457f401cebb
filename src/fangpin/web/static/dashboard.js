// fangpin dashboard charts: ECharts (vendored at /static/vendor/echarts, no CDN) over the figures embedded in the
// page as JSON (#chart-data, the same figures as GET /api/dashboard/figures). Without JavaScript the page still
// shows every number in its tables and the analysis text.
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el || !window.echarts) { return; }
  var d = JSON.parse(el.textContent);
  var zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;
  var lab = JSON.parse((document.getElementById("chart-labels") || { textContent: "{}" }).textContent);
  var palette = ["#a31515", "#1f6fb2", "#e39b16", "#3a9b5c", "#7b4fa0", "#5b6b7b"];
  var charts = [];
  function mk(id, option) {
    var node = document.getElementById(id);
    if (!node) { return; }
    node.classList.add("on");
    var c = window.echarts.init(node, null, { renderer: "canvas" });
    option.color = palette;
    option.grid = option.grid || { left: 44, right: 16, top: 40, bottom: 28, containLabel: true };
    option.tooltip = option.tooltip || { trigger: "axis" };
    c.setOption(option);
    charts.push(c);
  }
  var types = Object.keys(d.monitored_by_type);
  mk("chart-monitored", {
    legend: { top: 4, type: "scroll" },
    xAxis: { type: "category", data: d.months },
    yAxis: { type: "value", minInterval: 1 },
    series: types.map(function (t) {
      var n = d.monitored_type_names[t];
      return { name: zh ? n.zh : n.en, type: "bar", stack: "m", data: d.monitored_by_type[t] };
    })
  });
  mk("chart-flows", {
    legend: { top: 4 },
    xAxis: { type: "category", data: d.months },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1, splitLine: { show: false } }],
    series: [
      { name: lab.identified, type: "bar", data: d["new"] },
      { name: lab.removed, type: "bar", data: d.removed },
      { name: lab.raised, type: "line", yAxisIndex: 1, data: d.alerts_raised }
    ]
  });
  var risk = d.risk_mix_monitored.length ? d.risk_mix_monitored : d.risk_mix_alerts;
  if (risk.length) {
    mk("chart-risk", {
      tooltip: { trigger: "item" },
      title: { text: d.risk_mix_monitored.length ? lab.monitored : lab.alerts_month,
               left: "center", top: 4, textStyle: { fontSize: 12 } },
      series: [{ type: "pie", radius: ["35%", "65%"], top: 20,
                 data: risk.map(function (r) { return { name: zh ? r.zh : r.en, value: r.count }; }) }]
    });
  }
  var sla = d.sla_areas.filter(function (a) { return a.identification_on_time.denominator > 0; });
  if (sla.length) {
    mk("chart-sla", {
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: sla.map(function (a) { return a.name || a.code; }) },
      series: [{ type: "bar", name: lab.ident_on_time,
                 data: sla.map(function (a) { return Math.round(a.identification_on_time.value * 1000) / 10; }) }]
    });
  }
  var rows = d.drill.rows;
  if (rows.length) {
    mk("chart-areas", {
      legend: { top: 4 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.name || r.code; }),
               axisLabel: { interval: 0, rotate: rows.length > 6 ? 40 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: lab.raised, type: "bar", data: rows.map(function (r) { return r.raised; }) },
               { name: lab.open, type: "bar", data: rows.map(function (r) { return r.open; }) }]
    });
    // drill-down: a click on a township's bar opens its villages (same as the table link)
    var areaChart = charts[charts.length - 1];
    areaChart.on("click", function (p) {
      var r = rows[p.dataIndex];
      if (r && r.drill) { window.location.href = "/dashboard?month=" + encodeURIComponent(d.drill.month) + "&area=" + r.code + "#drill"; }
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.fangpinCharts = charts;  // for tests
})();
