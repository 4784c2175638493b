/**
 * `npm run demo`: two clients connect through the balancer (default
 * http://127.0.0.1:3000), land on different gateways, join one call, and a
 * message crosses from one gateway to the other through the Redis cluster.
 * It signs its own tokens with the secret `npm run local` wrote (or
 * AUTH_SECRET); with `AUTH_MODE=none` it sends none.
 */
import { io, type Socket } from "socket.io-client";
import { NAMESPACE, CLIENT_EVENT, SERVER_EVENT, type RelayedCallEvent } from "../gateway/src/protocol.js";
import { mintDevToken } from "../topology/dev-auth.js";
import { DEV_SECRET_FILE, readDevSecret } from "./dev-secret.js";

const url = process.argv[2] ?? "http://127.0.0.1:3000";
const callId = `demo-${Date.now().toString(36)}`;

const secret = process.env.AUTH_MODE === "none" ? undefined : readDevSecret();
if (process.env.AUTH_MODE !== "none" && !secret) {
  console.error(`npm run demo: no dev secret in ${DEV_SECRET_FILE}: start \`npm run local\` first, or set AUTH_SECRET (or AUTH_MODE=none if the gateways run without auth)`);
  process.exit(1);
}

async function connect(sub: string): Promise<{ socket: Socket; gateway: string }> {
  const auth = secret ? { token: await mintDevToken({ sub, secret, issuer: process.env.AUTH_ISSUER, audience: process.env.AUTH_AUDIENCE }) } : {};
  return new Promise((resolve, reject) => {
    const socket = io(url + NAMESPACE.calls, { transports: ["websocket"], reconnection: false, timeout: 5000, auth });
    socket.once("server:hello", (hello: { gateway: string }) => resolve({ socket, gateway: hello.gateway }));
    socket.once("connect_error", (err: Error & { data?: { code?: string } }) =>
      reject(new Error(`connect to ${url}: ${err.message}${err.data?.code ? ` (${err.data.code})` : ""}`)),
    );
  });
}

const a = await connect("demo-agent");
const b = await connect("demo-caller");
console.log(`client A on ${a.gateway}, client B on ${b.gateway}`);
for (const c of [a, b]) {
  const ack = await c.socket.emitWithAck(CLIENT_EVENT.join, { callId });
  if (!ack.ok) throw new Error(`join failed: ${JSON.stringify(ack)}`);
}
const received = new Promise<RelayedCallEvent>((resolve, reject) => {
  b.socket.once(SERVER_EVENT.callEvent, resolve);
  setTimeout(() => reject(new Error("B received nothing within 5 s")), 5000).unref();
});
const ack = await a.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "transcript", data: { text: "hello from A" } });
const event = await received;
console.log(`A sent on ${a.gateway}, ack ${JSON.stringify(ack)}`);
console.log(`B received on ${b.gateway} after ${Date.now() - event.ts} ms: ${JSON.stringify(event)}`);
a.socket.close();
b.socket.close();
