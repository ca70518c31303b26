// Small charts as inline SVG, drawn with the DOM (no markup strings, so no
// value can inject anything, and nothing the Content-Security-Policy
// forbids). Each chart is an <svg role="img"> with an aria-label that says
// what it shows; pages put a table of the same figures beside it, for
// screen readers and for anyone who would rather read numbers.
//
//   MesuraChart.bars([{label, value}], {label, color})
//     one horizontal bar per row, its value written at its end;
//   MesuraChart.lines([{name, values, color, dash}], dates, {label})
//     one line per series over the same dates, with a legend; dashes tell
//     series apart without colour.
"use strict";
globalThis.MesuraChart = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svg(width, height, label) {
    const s = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" });
    s.append(el("title", {}, label));
    return s;
  }

  // A round upper bound for an axis: 1, 2, 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function bars(rows, opts) {
    const o = opts || {};
    const rowH = 28, labelW = 170, barW = 300, numW = 70, width = labelW + barW + numW;
    const height = Math.max(1, rows.length) * rowH + 8;
    const s = svg(width, height, o.label || "");
    const max = niceMax(Math.max(0, ...rows.map((r) => r.value)));
    rows.forEach((r, i) => {
      const y = 4 + i * rowH;
      s.append(el("text", { x: labelW - 8, y: y + rowH / 2 + 5, "text-anchor": "end", class: "chart-label" },
        r.label.length > 24 ? r.label.slice(0, 23) + "…" : r.label));
      const w = Math.max(r.value > 0 ? 2 : 0, (barW * r.value) / max);
      s.append(el("rect", { x: labelW, y: y + 4, width: w, height: rowH - 8, fill: r.color || o.color || "#1f4fbf" }));
      s.append(el("text", { x: labelW + w + 6, y: y + rowH / 2 + 5, class: "chart-num" }, r.value.toLocaleString()));
    });
    return s;
  }

  function lines(series, dates, opts) {
    const o = opts || {};
    const left = 44, right = 12, top = 12, plotH = 150, width = 520, legendH = 22 * series.length;
    const bottom = top + plotH, height = bottom + 28 + legendH;
    const s = svg(width, height, o.label || "");
    const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)));
    const n = Math.max(1, dates.length - 1);
    const x = (i) => left + ((width - left - right) * i) / n;
    const y = (v) => bottom - (plotH * v) / max;
    for (const v of [0, max / 2, max]) {
      s.append(el("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "chart-grid" }));
      s.append(el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-num" },
        Number.isInteger(v) ? v : v.toFixed(1)));
    }
    if (dates.length) {
      s.append(el("text", { x: left, y: bottom + 18, class: "chart-num" }, dates[0]));
      s.append(el("text", { x: width - right, y: bottom + 18, "text-anchor": "end", class: "chart-num" },
        dates[dates.length - 1]));
    }
    series.forEach((ser, k) => {
      const pts = ser.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      const attrs = { points: pts, fill: "none", stroke: ser.color, "stroke-width": 2.5 };
      if (ser.dash) attrs["stroke-dasharray"] = ser.dash;
      s.append(el("polyline", attrs));
      ser.values.forEach((v, i) => {
        const dot = el("circle", { cx: x(i), cy: y(v), r: 3, fill: ser.color });
        dot.append(el("title", {}, `${ser.name}, ${dates[i]}: ${v}`));
        s.append(dot);
      });
      const ly = bottom + 40 + k * 22;
      const key = { x1: left, x2: left + 28, y1: ly - 4, y2: ly - 4, stroke: ser.color, "stroke-width": 3 };
      if (ser.dash) key["stroke-dasharray"] = ser.dash;
      s.append(el("line", key));
      s.append(el("text", { x: left + 36, y: ly, class: "chart-label" }, ser.name));
    });
    return s;
  }

  return { bars, lines };
})();
