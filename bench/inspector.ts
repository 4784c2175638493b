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

interface Session {
  call(method: string, params?: object, timeoutMs?: number): Promise<any>;
  onEvent(listener: (msg: { method?: string; params?: any }) => void): void;
  close(): void;
}

async function openSession(inspectPort: number): Promise<Session> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`, { signal: AbortSignal.timeout(10_000) })).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(list[0].webSocketDebuggerUrl, { perMessageDeflate: false, maxPayload: 2 ** 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map<number, (r: any) => void>();
  const listeners: Array<(msg: any) => void> = [];
  ws.on("message", (m: Buffer) => {
    const msg = JSON.parse(m.toString()) as { id?: number };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    else listeners.forEach((l) => l(msg));
  });
  return {
    call: (method, params = {}, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const i = ++id;
        const timer = setTimeout(() => reject(new Error(`${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
        pending.set(i, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        ws.send(JSON.stringify({ id: i, method, params }));
      }),
    onEvent: (l) => listeners.push(l),
    close: () => ws.close(),
  };
}

export async function readMemory(inspectPort: number, pid: number): Promise<MemoryReading> {
  const session = await openSession(inspectPort);
  try {
    // Twice: the first full GC can leave garbage that only the second frees
    // (weak references cleared in the first, objects they held in the second).
    await session.call("HeapProfiler.collectGarbage");
    await session.call("HeapProfiler.collectGarbage");
    const r = await session.call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())" });
    const m = JSON.parse(r.result.result.value) as Omit<MemoryReading, "rss">;
    return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: rssOf(pid) };
  } finally {
    session.close();
  }
}

/** Self size and count per kind of heap object ("object:Socket", "closure:onclose", "string", ...), from a full heap snapshot. */
export async function heapByKind(inspectPort: number): Promise<Map<string, { count: number; size: number }>> {
  const session = await openSession(inspectPort);
  const chunks: string[] = [];
  session.onEvent((msg) => {
    if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(msg.params.chunk as string);
  });
  try {
    await session.call("HeapProfiler.collectGarbage");
    await session.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 300_000);
  } finally {
    session.close();
  }
  const snap = JSON.parse(chunks.join("")) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const meta = snap.snapshot.meta;
  const width = meta.node_fields.length;
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => meta.node_fields.indexOf(f));
  const types = meta.node_types[0];
  const kinds = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    const name = snap.strings[snap.nodes[i + iName]];
    const key = type === "object" || type === "closure" ? `${type}:${name}` : /string/.test(type) ? "string" : type === "code" || type === "hidden" ? type : `${type}:${name.slice(0, 40)}`;
    const k = kinds.get(key) ?? { count: 0, size: 0 };
    k.count++;
    k.size += snap.nodes[i + iSize];
    kinds.set(key, k);
  }
  return kinds;
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
