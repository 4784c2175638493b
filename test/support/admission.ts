/** Helpers for tests of who gets a connection. */
import { io } from "socket.io-client";
import type { ConnectErrorData } from "../../gateway/src/protocol.js";
import { connectClient, type ConnectedClient } from "./clients.js";

/** Connects, expecting a refusal: resolves with `connect_error`'s data, rejects if the connection is accepted. */
export function connectRefused(url: string, namespace: string, opts: Record<string, unknown> = {}): Promise<ConnectErrorData> {
  return new Promise((resolve, reject) => {
    const socket = io(url + namespace, { transports: ["websocket"], reconnection: false, timeout: 5000, forceNew: true, ...opts });
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`neither accepted nor refused within 8 s: ${url}${namespace}`));
    }, 8000);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`connection to ${url}${namespace} was accepted, a refusal was expected`));
    });
    socket.once("connect_error", (err: Error & { data?: ConnectErrorData }) => {
      clearTimeout(timer);
      socket.close();
      if (!err.data) reject(new Error(`connect_error without data: ${err.message}`));
      else resolve(err.data);
    });
  });
}

/** Connects with `token`; resolves with the client or the refusal's data. */
export async function tryConnect(url: string, namespace: string, token: string): Promise<{ client?: ConnectedClient; refused?: ConnectErrorData }> {
  try {
    return { client: await connectClient(url, namespace, { auth: { token } }) };
  } catch (err) {
    const data = (err as { data?: ConnectErrorData }).data;
    if (!data) throw err;
    return { refused: data };
  }
}

/** Sum of every sample of the metric lines starting with `prefix` on a gateway's /metrics. */
export async function metricSum(url: string, prefix: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
