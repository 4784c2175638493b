/**
 * `npm run publish`: POST one event to a gateway's /v1/publish, for trying it
 * locally and from shell scripts. Exit code 0 on 202, 1 otherwise, 2 on bad
 * arguments; the gateway's JSON answer is printed either way.
 *
 *   export PUBLISH_SECRET=$(openssl rand -hex 32)   # the same value the gateways run with
 *   npm run publish -- --room call:abc --event status --data '{"state":"ringing"}'
 *
 * Options: --url (default $PUBLISH_URL or http://127.0.0.1:3000, the local
 * balancer), --namespace (default: /calls and /dashboard, where a relay goes),
 * --service (the `service:<name>` clients see as `from`), --secret (default
 * $PUBLISH_SECRET).
 */
import { parseArgs } from "node:util";
import { PUBLISH_PATH } from "../gateway/src/protocol.js";

function fail(message: string): never {
  process.stderr.write(`npm run publish: ${message}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      url: { type: "string", default: process.env.PUBLISH_URL ?? "http://127.0.0.1:3000" },
      room: { type: "string" },
      event: { type: "string" },
      data: { type: "string" },
      namespace: { type: "string" },
      service: { type: "string" },
      secret: { type: "string", default: process.env.PUBLISH_SECRET },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
if (!values.room) fail("--room is required, e.g. --room call:abc");
if (!values.event) fail("--event is required, e.g. --event status");
if (!values.secret) fail("no credential: set PUBLISH_SECRET (the value the gateways run with) or pass --secret");

let data: unknown = null;
if (values.data !== undefined) {
  try {
    data = JSON.parse(values.data);
  } catch {
    fail(`--data ${JSON.stringify(values.data)} is not JSON; quote it, e.g. --data '{"state":"ringing"}'`);
  }
}

const body = { room: values.room, event: values.event, data, namespace: values.namespace, service: values.service };
const url = new URL(PUBLISH_PATH, values.url);
try {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${values.secret}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  process.stdout.write(`${res.status} ${res.statusText}\n${text}\n`);
  process.exit(res.status === 202 ? 0 : 1);
} catch (err) {
  process.stderr.write(`npm run publish: ${url} did not answer: ${(err as Error).message}\n`);
  process.exit(1);
}
