/**
 * Development tokens for the local topology, the tests and the demo: a random
 * HS256 secret per process (never a fixed one that could leak into a real
 * deployment), the gateway environment that trusts it, and a minting
 * function. Real deployments get tokens from their identity provider.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT } from "jose";

export const DEV_ISSUER = "switchboard-dev";
export const DEV_AUDIENCE = "switchboard";
export const DEV_TENANT = "acme";

/** Generated once per process; gateways started by this process trust it. */
export const DEV_AUTH_SECRET = randomBytes(32).toString("base64url");

/** Gateway environment that verifies tokens signed with `secret`. */
export function devAuthEnv(secret = DEV_AUTH_SECRET): Record<string, string> {
  return { AUTH_MODE: "hs256", AUTH_SECRET: secret, AUTH_ISSUER: DEV_ISSUER, AUTH_AUDIENCE: DEV_AUDIENCE };
}

export interface DevTokenOptions {
  /** Default: a fresh `user-<uuid>`, so connections never share a per-user limit by accident. */
  sub?: string;
  /** Default DEV_TENANT. */
  tenant?: string;
  /** Seconds until expiry; negative for an already expired token. Default 3600. */
  expiresInSeconds?: number;
  secret?: string;
  issuer?: string;
  audience?: string;
  /** More claims (roles...), or overrides; `tenant: undefined` removes the tenant claim. */
  claims?: Record<string, unknown>;
  /** Name of the tenant claim (AUTH_TENANT_CLAIM), default `tenant`. */
  tenantClaim?: string;
}

export async function mintDevToken(o: DevTokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { [o.tenantClaim ?? "tenant"]: o.tenant ?? DEV_TENANT, ...o.claims };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.sub ?? `user-${randomUUID()}`)
    .setIssuer(o.issuer ?? DEV_ISSUER)
    .setAudience(o.audience ?? DEV_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresInSeconds ?? 3600))
    .sign(new TextEncoder().encode(o.secret ?? DEV_AUTH_SECRET));
}
