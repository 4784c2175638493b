/**
 * A load test's outputs: the summary table printed at the end, and a report
 * as JSON plus a self-contained HTML page (inline SVG charts, no scripts, no
 * network) that opens from a CI artifact or a laptop alike.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadtestResult } from "./fleet.js";

const n = (v: number | undefined) => (v === undefined ? "-" : Math.round(v).toLocaleString("en"));
const ms = (v: number | undefined) => (v === undefined ? "-" : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);

export function summaryRows(r: LoadtestResult): Array<[string, string]> {
  const c = r.connections;
  const rows: Array<[string, string]> = [
    ["scenario", `${r.scenario}${r.label ? ` (${r.label})` : ""}, ${r.workers} worker(s), ${r.options.targets.length} target(s)`],
    r.scenario === "churn"
      ? ["connections made", `${n(c.reached)} by ${n(c.target)} concurrent loops`]
      : ["connections reached", `${n(c.reached)} of ${n(c.target)}`],
    ["connections held", c.held === undefined ? "-" : `${n(c.held)} (dropped ${n(c.dropped)})`],
    ["connect rate", c.connectRate ? `${n(c.connectRate)}/s over ${c.connectSeconds.toFixed(1)} s` : "-"],
    ["errors", Object.keys(r.errors).length ? Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ") : "none"],
  ];
  if (r.fanout) {
    rows.push(["messages sent / acked / refused / unconfirmed", `${n(r.fanout.sent)} / ${n(r.fanout.acked)} / ${n(r.fanout.refused)} / ${n(r.fanout.unconfirmed)}`]);
    rows.push(["deliveries", `${n(r.fanout.deliveries)} (${n(r.fanout.expected)} due for acked messages)`]);
    rows.push(["deliveries per second", `${n(r.fanout.deliveriesPerSec)} (over ${r.fanout.sendSeconds} s)`]);
    rows.push(["messages lost (acked, not delivered)", n(r.fanout.lost)]);
  }
  if (r.churn) rows.push(["cycles", `${n(r.churn.cycles)} (${n(r.churn.cyclesPerSec)}/s)`]);
  const l = r.latencyMs;
  if (l.count > 0) {
    rows.push([
      r.scenario === "churn" ? "cycle time" : "delivery latency",
      `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}`,
    ]);
  }
  rows.push(["load-generator RSS (largest worker)", `${r.workerRssMaxMiB} MiB`]);
  return rows;
}

/**
 * Why a run failed, one phrase per reason; empty when it reached every
 * connection, held them all, lost no acknowledged message and met no error.
 * The CLI exits 1 on any, so a script or CI job can tell a failed run.
 */
export function loadtestFailures(r: LoadtestResult): string[] {
  const c = r.connections;
  const failures: string[] = [];
  if (r.scenario !== "churn" && c.reached < c.target) failures.push(`${n(c.target - c.reached)} of ${n(c.target)} connections not opened`);
  if (c.dropped > 0) failures.push(`${n(c.dropped)} dropped while held`);
  if (r.fanout && r.fanout.lost > 0) failures.push(`${n(r.fanout.lost)} acknowledged messages lost`);
  const errors = Object.entries(r.errors).filter(([, v]) => v > 0);
  if (errors.length > 0) failures.push(`errors: ${errors.map(([k, v]) => `${k} ${n(v)}`).join(", ")}`);
  return failures;
}

export function formatTable(rows: Array<[string, string]>): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n");
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.html`; returns their paths. */
export function writeReport(r: LoadtestResult, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const name = `${r.startedAt.replace(/[:.]/g, "-")}-${r.scenario}${r.label ? `-${r.label.replace(/[^A-Za-z0-9_-]/g, "_")}` : ""}`;
  const json = join(dir, `${name}.json`);
  const html = join(dir, `${name}.html`);
  writeFileSync(json, JSON.stringify(r, null, 2));
  writeFileSync(html, renderHtml(r));
  return { json, html };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function lineChart(title: string, points: Array<[number, number]>, unit: string): string {
  const W = 720;
  const H = 220;
  const P = 40;
  if (points.length === 0) return `<p>${esc(title)}: no data</p>`;
  const maxX = Math.max(...points.map((p) => p[0]), 1);
  const maxY = Math.max(...points.map((p) => p[1]), 1);
  const x = (v: number) => P + (v / maxX) * (W - 2 * P);
  const y = (v: number) => H - P + -(v / maxY) * (H - 2 * P);
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  return `<h3>${esc(title)}</h3><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#888"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#888"/>
<text x="${P}" y="${P - 8}" font-size="11">${esc(maxY.toLocaleString("en"))} ${esc(unit)}</text>
<text x="${W - P}" y="${H - P + 16}" font-size="11" text-anchor="end">${maxX.toFixed(0)} s</text>
<path d="${path}" fill="none" stroke="#2563eb" stroke-width="2"/></svg>`;
}

function histogramChart(r: LoadtestResult): string {
  const b = r.histogram;
  if (b.length === 0) return "";
  const W = 720;
  const H = 220;
  const P = 40;
  const maxC = Math.max(...b.map((x) => x.count));
  const bw = (W - 2 * P) / b.length;
  const bars = b
    .map((x, i) => {
      const h = (x.count / maxC) * (H - 2 * P);
      return `<rect x="${(P + i * bw).toFixed(1)}" y="${(H - P - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#16a34a"><title>${x.lowMs.toFixed(2)}-${x.highMs.toFixed(2)} ms: ${x.count}</title></rect>`;
    })
    .join("");
  const what = r.scenario === "churn" ? "Cycle time" : "Delivery latency";
  return `<h3>${what} histogram (log-scale buckets)</h3><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">${bars}
<text x="${P}" y="${H - P + 16}" font-size="11">${b[0].lowMs.toFixed(2)} ms</text>
<text x="${W - P}" y="${H - P + 16}" font-size="11" text-anchor="end">${b[b.length - 1].highMs.toFixed(1)} ms</text></svg>`;
}

export function renderHtml(r: LoadtestResult): string {
  const rows = summaryRows(r)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join("\n");
  const conns = lineChart("Connections open", r.timeline.map((p) => [p.t, p.open]), "connections");
  const rate = r.scenario === "idle" ? "" : lineChart(r.scenario === "churn" ? "Cycles per second" : "Deliveries per second", r.timeline.map((p) => [p.t, p.deliveriesPerSec]), "/s");
  return `<!doctype html><html><head><meta charset="utf-8"><title>Load test ${esc(r.scenario)} ${esc(r.startedAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:800px}th{text-align:left;padding-right:1em;font-weight:600}td,th{padding:2px 6px;vertical-align:top}</style></head>
<body><h1>Load test: ${esc(r.scenario)}${r.label ? ` (${esc(r.label)})` : ""}</h1><p>Started ${esc(r.startedAt)}, ${r.seconds.toFixed(0)} s, targets ${esc(r.options.targets.join(", "))}</p>
<table>${rows}</table>${conns}${rate}${histogramChart(r)}
<details><summary>Options</summary><pre>${esc(JSON.stringify(r.options, null, 2))}</pre></details></body></html>`;
}
