/**
 * Exact memory of a running server process over the DevTools protocol: it is
 * started with `--inspect=127.0.0.1:<port>`; `HeapProfiler.collectGarbage`
 * forces full GCs, then `process.memoryUsage()` is read inside it. Repeatable
 * to a few percent, unlike heap figures sampled between collections.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";

export interface MemoryReading {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Resident set size from /proc/<pid>/status (VmRSS), bytes. */
  rss: number;
}

export async function readMemory(inspectPort: number, pid: number): Promise<MemoryReading> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`, { signal: AbortSignal.timeout(10_000) })).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(list[0].webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map<number, (r: any) => void>();
  ws.on("message", (m: Buffer) => {
    const msg = JSON.parse(m.toString()) as { id?: number };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  });
  const call = (method: string, params: object = {}, timeoutMs = 60_000): Promise<any> =>
    new Promise((resolve, reject) => {
      const i = ++id;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
      pending.set(i, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  try {
    // Twice: the first full GC can leave garbage that only the second frees
    // (weak references cleared in the first, objects they held in the second).
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const r = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())" });
    const m = JSON.parse(r.result.result.value) as Omit<MemoryReading, "rss">;
    return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: rssOf(pid) };
  } finally {
    ws.close();
  }
}

export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) * 1024;
}

/** User + system CPU seconds a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) of stat(5), in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
