/**
 * `npm run token`: prints a development JWT that the gateways of
 * `npm run local` accept (signed with the secret in .local/dev-secret, or
 * AUTH_SECRET when set).
 *
 *   npm run token -- --sub alice --tenant acme --ttl 3600 [--claim role=manager]
 *
 * Use it as `io(url + "/calls", { auth: { token } })`.
 */
import { parseArgs } from "node:util";
import { DEV_TENANT, mintDevToken } from "../topology/dev-auth.js";
import { DEV_SECRET_FILE, readDevSecret } from "./dev-secret.js";

const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "dev-user" },
    tenant: { type: "string", default: DEV_TENANT },
    ttl: { type: "string", default: "3600" },
    claim: { type: "string", multiple: true, default: [] },
  },
});

const secret = readDevSecret();
if (!secret) {
  process.stderr.write(`npm run token: no secret: start \`npm run local\` first (it writes ${DEV_SECRET_FILE}) or set AUTH_SECRET\n`);
  process.exit(1);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1) {
  process.stderr.write(`npm run token: --ttl ${JSON.stringify(values.ttl)}: expected a whole number of seconds\n`);
  process.exit(1);
}
const claims: Record<string, string> = {};
for (const c of values.claim!) {
  const eq = c.indexOf("=");
  if (eq < 1) {
    process.stderr.write(`npm run token: --claim ${JSON.stringify(c)}: expected name=value\n`);
    process.exit(1);
  }
  claims[c.slice(0, eq)] = c.slice(eq + 1);
}
process.stdout.write(
  (await mintDevToken({ sub: values.sub, tenant: values.tenant, expiresInSeconds: ttl, secret, claims, issuer: process.env.AUTH_ISSUER, audience: process.env.AUTH_AUDIENCE })) + "\n",
);
