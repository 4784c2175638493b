/**
 * HS256 JSON Web Tokens for load-test connections, minted with node:crypto so
 * the load generator needs no JWT library: one token per connection, each
 * with its own subject, as real clients would present.
 */
import { createHmac } from "node:crypto";

const b64url = (s: string | Buffer) => Buffer.from(s).toString("base64url");
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

export function mintHs256(secret: string, claims: Record<string, unknown>): string {
  const body = `${HEADER}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/** A token for connection number `index`: subject `loadtest-<index>`, valid for `ttlSeconds`. */
export function connectionToken(secret: string, index: number, ttlSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  return mintHs256(secret, { sub: `loadtest-${index}`, iat: now, exp: now + ttlSeconds });
}
