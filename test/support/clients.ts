/** Real socket.io-client connections for the tests. */
import { io, type Socket } from "socket.io-client";
import { mintDevToken } from "../../topology/dev-auth.js";

export interface ConnectedClient {
  socket: Socket;
  /** The gateway id the client landed on (from server:hello). */
  gateway: string;
}

const open = new Set<Socket>();

/**
 * Connects and waits for server:hello. Without `opts.auth`, the client
 * presents a fresh dev token (a new user of tenant DEV_TENANT), which the
 * topology's gateways trust; pass `auth: {}` to connect with no token.
 */
export async function connectClient(url: string, namespace: string, opts: Record<string, unknown> = {}): Promise<ConnectedClient> {
  if (opts.auth === undefined) opts = { ...opts, auth: { token: await mintDevToken() } };
  return new Promise((resolve, reject) => {
    const socket = io(url + namespace, { transports: ["websocket"], reconnection: false, timeout: 5000, forceNew: true, ...opts });
    open.add(socket);
    const timer = setTimeout(() => reject(new Error(`no server:hello from ${url}${namespace} within 5 s`)), 5000);
    socket.once("server:hello", (hello: { gateway: string }) => {
      clearTimeout(timer);
      resolve({ socket, gateway: hello.gateway });
    });
    socket.once("connect_error", (err: Error & { data?: unknown }) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Resolves with the next `event` on `socket`, or rejects after `timeoutMs`. */
export function nextEvent<T = any>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onEvent = (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    };
    socket.once(event, onEvent);
  });
}

/** Collects every `event` received on `socket` from now on. */
export function collect<T = any>(socket: Socket, event: string): T[] {
  const got: T[] = [];
  socket.on(event, (p: T) => got.push(p));
  return got;
}

export function closeAllClients(): void {
  for (const s of open) s.close();
  open.clear();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
