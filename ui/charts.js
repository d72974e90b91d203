// SVG charts drawn from the stats: the funnel (horizontal bars) and sends per minute (bars).
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}
const Charts = {
  // rows: [[label, value]], scaled to the first (the total).
  funnel(rows) {
    const w = 320, rowH = 28, total = Math.max(1, rows[0][1]);
    const root = svg("svg", { viewBox: `0 0 ${w} ${rows.length * rowH}`, role: "img", "aria-label": "Funnel", id: "funnel" });
    rows.forEach(([label, value], i) => {
      const y = i * rowH;
      const bw = Math.max(1, ((w - 150) * value) / total);
      root.append(svg("rect", { x: 90, y: y + 4, width: bw, height: rowH - 8, fill: label === "failed" ? "#b3261e" : "#2956c8" }));
      root.append(svg("text", { x: 0, y: y + rowH / 2 + 5, "font-size": 13 }, label));
      const t = svg("text", { x: 95 + bw, y: y + rowH / 2 + 5, "font-size": 13, "data-step": label }, fmt.n(value));
      root.append(t);
    });
    return root;
  },
  // points: [{minute: Date ms, count}] oldest first.
  perMinute(points) {
    const w = 320, hgt = 100, max = Math.max(1, ...points.map((p) => p.count));
    const root = svg("svg", { viewBox: `0 0 ${w} ${hgt + 16}`, role: "img", "aria-label": "Sends per minute", id: "per-minute" });
    const bw = w / Math.max(points.length, 10);
    points.forEach((p, i) => {
      const bh = (hgt * p.count) / max;
      root.append(svg("rect", { x: i * bw + 1, y: hgt - bh, width: bw - 2, height: bh, fill: "#2956c8" }));
      root.append(svg("title", {}, `${new Date(p.minute).toLocaleTimeString(LOCALE)}: ${fmt.n(p.count)}`));
    });
    root.append(svg("text", { x: 0, y: hgt + 14, "font-size": 11 }, `max ${fmt.n(max)}/min`));
    return root;
  },
};
