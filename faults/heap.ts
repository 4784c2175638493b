/**
 * A gateway's heap, read exactly from outside: the gateway runs with
 * `--inspect=127.0.0.1:0` (a free loopback port, printed on stderr), and the
 * DevTools protocol forces a full GC before reading `heapUsed`, so what is
 * measured is what is retained, not garbage waiting for a collection.
 */
import WebSocket from "ws";
import type { GatewayProcess } from "../topology/index.js";

export const INSPECT_ARGS = ["--inspect=127.0.0.1:0"];

function inspectorUrl(gw: GatewayProcess): string {
  for (const line of gw.output) {
    const m = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(line);
    if (m) return m[1];
  }
  throw new Error(`gateway ${gw.port} has no inspector: start it with ${INSPECT_ARGS.join(" ")}`);
}

/** heapUsed in bytes after two full GCs. */
export async function retainedHeap(gw: GatewayProcess): Promise<number> {
  const ws = new WebSocket(inspectorUrl(gw));
  await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
  let nextId = 1;
  const call = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer within 30 s`)), 30_000);
      const onMessage = (raw: WebSocket.RawData) => {
        const msg = JSON.parse(raw.toString());
        if (msg.id !== id) return;
        ws.off("message", onMessage);
        clearTimeout(timer);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const r = await call("Runtime.evaluate", { expression: "process.memoryUsage().heapUsed", returnByValue: true });
    return Number(r.result.value);
  } finally {
    ws.close();
  }
}
