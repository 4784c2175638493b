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

export interface TokenClaims {
  /** `iss` and `aud`, when the gateway checks them (AUTH_ISSUER, AUTH_AUDIENCE). */
  issuer?: string;
  audience?: string;
  /** The tenant, under the gateway's AUTH_TENANT_CLAIM (default claim name `tenant`). */
  tenant: string;
  tenantClaim: string;
}

/**
 * A token for connection `index` of run `runId`: its own subject, so the
 * gateway's per-user connection limit sees one connection per user, as a
 * real population of clients would be.
 */
export function connectionToken(secret: string, runId: string, index: number, ttlSeconds: number, c: TokenClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { sub: `${runId}-${index}`, [c.tenantClaim]: c.tenant, iat: now, exp: now + ttlSeconds };
  if (c.issuer) claims.iss = c.issuer;
  if (c.audience) claims.aud = c.audience;
  return mintHs256(secret, claims);
}
