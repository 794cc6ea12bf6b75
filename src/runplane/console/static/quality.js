// quality.js: draws the quality page's charts with uPlot from the page's JSON block.
// The tables on the page hold the same figures, for readers without script.
"use strict";

(function () {
  const COLOURS = ["#3538cd", "#12b76a", "#f79009", "#e31b54", "#0ba5ec", "#7a5af8", "#667085", "#a15c07"];

  function draw() {
    const block = document.getElementById("quality-data");
    if (!block || typeof uPlot === "undefined") return;
    const data = JSON.parse(block.textContent);
    document.querySelectorAll(".chart[data-series]").forEach((el) => {
      const group = data[el.dataset.series] || {};
      const names = Object.keys(group);
      const percent = el.dataset.unit === "%";
      const rows = names.map((n) => group[n].map((v) => (v === null ? null : percent ? v * 100 : v)));
      const series = [{}].concat(names.map((n, i) => ({
        label: n,
        stroke: COLOURS[i % COLOURS.length],
        width: i === 0 && percent ? 2.5 : 1.5,
        points: { show: data.x.length < 60 },
        spanGaps: true,
      })));
      const opts = {
        width: Math.max(280, el.clientWidth || 480),
        height: 220,
        series: series,
        legend: { live: false },
        // From zero: a latency or credit line that starts mid-axis exaggerates a change.
        scales: { x: { time: true }, y: { range: percent ? [0, 100] : (u, lo, hi) => [0, hi > 0 ? hi * 1.15 : 1] } },
        axes: [{}, { values: (u, ticks) => ticks.map((t) => (percent ? t + "%" : String(t))) }],
      };
      el.textContent = "";
      const plot = new uPlot(opts, [data.x].concat(rows), el);
      el.dataset.points = String(data.x.length);
      el.dataset.drawn = "1";
      new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 })).observe(el);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
