/**
 * Verifies the JWT a client presents in the handshake's `auth.token`, with
 * `jose`: HS256 with a shared secret, or RS256/ES256 against an identity
 * provider's JWKS (keys cached, refetched when a token names an unknown
 * `kid`). Returns the identity, or a refusal with a stable code.
 *
 * To use another kind of credential (an opaque session id, mTLS, an API
 * key), write another function of this shape and return it from
 * `createTokenVerifier`: admission only needs `verify(token)`.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import type { AuthConfig } from "./config.js";
import type { Identity } from "./identity.js";
import { CONNECT_ERROR_CODE, TENANT_PATTERN, type ConnectErrorCode } from "./protocol.js";

export type Verified = { ok: true; identity: Identity } | { ok: false; code: ConnectErrorCode; message: string };

export interface TokenVerifier {
  verify(token: unknown): Promise<Verified>;
}

/** A JWT is three base64url parts; anything longer than this is not a token we issue. */
const MAX_TOKEN_LENGTH = 8192;
const SUB_PATTERN = /^[\x21-\x7e]{1,256}$/;

/** JWKS caching: keys are kept 10 min; an unknown `kid` refetches at most every AUTH_JWKS_COOLDOWN_SECONDS (key rotation without a refetch storm). */
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
const JWKS_TIMEOUT_MS = 5000;

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  if (config.mode === "none") throw new Error("no token verifier when AUTH_MODE=none");
  const options: JWTVerifyOptions = {
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    // Pinning algorithms per mode stops an attacker from choosing one
    // (e.g. HS256 signed with a public RSA key, or `none`).
    algorithms: config.mode === "hs256" ? ["HS256"] : ["RS256", "ES256"],
    requiredClaims: ["sub", "exp"],
  };
  const key =
    config.mode === "hs256"
      ? new TextEncoder().encode(config.secret!)
      : createRemoteJWKSet(new URL(config.jwksUrl!), {
          cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
          cooldownDuration: config.jwksCooldownSeconds * 1000,
          timeoutDuration: JWKS_TIMEOUT_MS,
        });

  return {
    async verify(token) {
      if (token === undefined || token === null || token === "") {
        return refuse(CONNECT_ERROR_CODE.authMissing, "no token: pass it as auth.token in the handshake, e.g. io(url, { auth: { token } })");
      }
      if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) {
        return refuse(CONNECT_ERROR_CODE.authInvalid, `auth.token must be a JWT string of at most ${MAX_TOKEN_LENGTH} characters`);
      }
      let payload: JWTPayload;
      try {
        // The two overloads (secret, key set) differ only in the key's type.
        payload = (await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], options)).payload;
      } catch (err) {
        return fromJoseError(err);
      }
      const tenant = payload[config.tenantClaim];
      if (typeof payload.sub !== "string" || !SUB_PATTERN.test(payload.sub)) {
        return refuse(CONNECT_ERROR_CODE.authInvalid, "the token's sub must be 1-256 printable ASCII characters");
      }
      if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) {
        return refuse(CONNECT_ERROR_CODE.authInvalid, `the token's ${config.tenantClaim} claim must be 1-64 characters of [A-Za-z0-9_-]`);
      }
      return { ok: true, identity: { sub: payload.sub, tenant, authenticated: true, claims: payload } };
    },
  };
}

function refuse(code: ConnectErrorCode, message: string): Verified {
  return { ok: false, code, message };
}

function fromJoseError(err: unknown): Verified {
  if (err instanceof errors.JWTExpired) return refuse(CONNECT_ERROR_CODE.authExpired, "the token has expired: get a new one");
  // The identity provider did not answer: the token may be fine, so the
  // client should retry rather than re-authenticate.
  if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
    return refuse(CONNECT_ERROR_CODE.authUnavailable, "the identity provider's keys could not be fetched; retry later");
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return refuse(CONNECT_ERROR_CODE.authInvalid, `the token's ${err.claim} claim is not accepted here (${err.reason})`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return refuse(CONNECT_ERROR_CODE.authInvalid, "the token's signature does not verify");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse(CONNECT_ERROR_CODE.authInvalid, "the token's signing algorithm is not accepted");
  return refuse(CONNECT_ERROR_CODE.authInvalid, "the token is not a valid JWT");
}
