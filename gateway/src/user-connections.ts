/**
 * The per-user connection limit across the fleet (MAX_CONNECTIONS_PER_USER),
 * built so that a gateway that dies without running its disconnect handlers
 * (SIGKILL, OOM kill, lost host) cannot lock its users out.
 *
 * Design: one Redis hash per user, `conn:{<tenant>:<sub>}`, with one field per
 * gateway process holding `<count>:<expiresAtMs>` (Redis' own clock, TIME).
 * - admit (Lua, atomic): sum the counts of the fields not yet expired,
 *   deleting expired ones; below the limit, add one to this gateway's field.
 * - release (Lua): subtract one from this gateway's field.
 * - renew (Lua, every lease/3): each gateway rewrites its fields with the
 *   count it actually holds and a new expiry. A dead gateway stops renewing,
 *   so its fields stop counting within CONNECTION_LEASE_SECONDS; a release
 *   lost while Redis was away is corrected by the next renewal.
 * A user's connections live in one key, so one script sees them all; the
 * `{...}` hash tag keeps any future per-user key in the same cluster slot.
 * Each process uses a fresh field name, so a gateway restarted with the same
 * GATEWAY_ID never inherits its predecessor's counts.
 *
 * Memory mode: the same limit within this process only.
 */
import { randomUUID, createHash } from "node:crypto";
import { withTimeout, type Bus, type RedisConnection } from "./bus.js";
import type { Logger } from "./log.js";

export type Admission = { ok: true; release: () => void } | { ok: false; reason: "limit" | "unavailable"; live?: number };

export interface UserConnections {
  /** Takes a connection slot for `user`; call `release` exactly once when the connection ends. */
  admit(user: { tenant: string; sub: string }): Promise<Admission>;
  close(): Promise<void>;
}

export interface UserConnectionsOptions {
  max: number;
  leaseSeconds: number;
  onRedisError: "open" | "closed";
  gatewayId: string;
  /** Called when Redis could not answer; for `admit`, `admitted` says what was decided. */
  onStoreError?: (operation: "admit" | "release" | "renew", err: Error, admitted?: boolean) => void;
}

const REDIS_TIMEOUT_MS = 1500;

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS[1] user hash; ARGV: field, max, leaseMs. Returns {admitted 0|1, live count}.
const ADMIT = `${NOW_MS}
local fields = redis.call('HGETALL', KEYS[1])
local live, mine = 0, 0
for i = 1, #fields, 2 do
  local count, expires = string.match(fields[i + 1], '^(%d+):(%d+)$')
  count, expires = tonumber(count), tonumber(expires)
  if count == nil or expires == nil or expires <= now then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    live = live + count
    if fields[i] == ARGV[1] then mine = count end
  end
end
if live >= tonumber(ARGV[2]) then return {0, live} end
redis.call('HSET', KEYS[1], ARGV[1], (mine + 1) .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, live + 1}`;

// KEYS[1] user hash; ARGV: field. Returns this gateway's remaining count.
const RELEASE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local count, expires = string.match(v, '^(%d+):(%d+)$')
count = (tonumber(count) or 0) - 1
if count <= 0 or expires == nil then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
redis.call('HSET', KEYS[1], ARGV[1], count .. ':' .. expires)
return count`;

// KEYS[1] user hash; ARGV: field, count ('' = keep the stored count), leaseMs.
const RENEW = `${NOW_MS}
local count = ARGV[2]
if count == '' then
  local v = redis.call('HGET', KEYS[1], ARGV[1])
  count = v and string.match(v, '^(%d+):')
  if not count then return 0 end
end
if tonumber(count) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
redis.call('HSET', KEYS[1], ARGV[1], count .. ':' .. (now + tonumber(ARGV[3])))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return tonumber(count)`;

/** The Redis key of a user's connection counts. Encoding keeps `{`, `}` and `:` of ids out of the key's structure. */
export function userConnectionsKey(user: { tenant: string; sub: string }): string {
  return `conn:{${encodeURIComponent(user.tenant)}:${encodeURIComponent(user.sub)}}`;
}

export function createUserConnections(bus: Bus, o: UserConnectionsOptions, log: Logger): UserConnections {
  if (o.max === 0) return { admit: async () => ({ ok: true, release: () => {} }), close: async () => {} };
  return bus.pub ? redisUserConnections(bus.pub, bus.mode === "cluster", o, log) : memoryUserConnections(o);
}

function memoryUserConnections(o: UserConnectionsOptions): UserConnections {
  const held = new Map<string, number>();
  return {
    async admit(user) {
      const key = userConnectionsKey(user);
      const live = held.get(key) ?? 0;
      if (live >= o.max) return { ok: false, reason: "limit", live };
      held.set(key, live + 1);
      return { ok: true, release: once(() => {
        const left = (held.get(key) ?? 1) - 1;
        if (left <= 0) held.delete(key);
        else held.set(key, left);
      }) };
    },
    close: async () => {},
  };
}

interface Held {
  /** Connections of this user open on this gateway. */
  count: number;
  /** Admit/release scripts in flight: the renewal must not overwrite their effect. */
  inflight: number;
}

function redisUserConnections(redis: RedisConnection, cluster: boolean, o: UserConnectionsOptions, log: Logger): UserConnections {
  const field = `${o.gatewayId}/${randomUUID().slice(0, 8)}`;
  const leaseMs = o.leaseSeconds * 1000;
  const held = new Map<string, Held>();
  const sha = (script: string) => createHash("sha1").update(script).digest("hex");
  const scripts = { admit: [ADMIT, sha(ADMIT)], release: [RELEASE, sha(RELEASE)], renew: [RENEW, sha(RENEW)] } as const;

  async function run<T>(name: keyof typeof scripts, key: string, args: string[]): Promise<T> {
    const [source, digest] = scripts[name];
    const send = (cmd: string[]) => (cluster ? redis.sendCommand(key, false, cmd) : redis.sendCommand(cmd));
    try {
      return await withTimeout(send(["EVALSHA", digest, "1", key, ...args]), REDIS_TIMEOUT_MS, `${name} script`);
    } catch (err) {
      // First use on this node (or after a restart/failover): load it by EVAL.
      if (!/NOSCRIPT/.test(String((err as Error)?.message))) throw err;
      return await withTimeout(send(["EVAL", source, "1", key, ...args]), REDIS_TIMEOUT_MS, `${name} script`);
    }
  }

  const entry = (key: string) => {
    let h = held.get(key);
    if (!h) held.set(key, (h = { count: 0, inflight: 0 }));
    return h;
  };
  const forgetIfIdle = (key: string, h: Held) => {
    if (h.count <= 0 && h.inflight <= 0) held.delete(key);
  };

  async function renewAll(): Promise<void> {
    const keys = [...held.keys()];
    // Batches bound the commands in flight; node-redis pipelines each batch.
    for (let i = 0; i < keys.length && !closed; i += 500) {
      await Promise.all(
        keys.slice(i, i + 500).map(async (key) => {
          const h = held.get(key);
          if (!h) return;
          const count = h.inflight > 0 ? "" : String(h.count);
          await run("renew", key, [field, count, String(leaseMs)]).catch((err) => o.onStoreError?.("renew", err as Error));
        }),
      );
    }
  }

  let closed = false;
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(renewAll).catch((err) => log.warn("connection lease renewal failed", { error: err as Error }));
  }, Math.floor(leaseMs / 3));
  timer.unref();

  return {
    async admit(user) {
      const key = userConnectionsKey(user);
      const h = entry(key);
      h.inflight++;
      let admitted: boolean;
      let live: number | undefined;
      try {
        const [ok, count] = await run<[number, number]>("admit", key, [field, String(o.max), String(leaseMs)]);
        admitted = Number(ok) === 1;
        live = Number(count);
      } catch (err) {
        admitted = o.onRedisError === "open";
        o.onStoreError?.("admit", err as Error, admitted);
        if (!admitted) {
          h.inflight--;
          forgetIfIdle(key, h);
          return { ok: false, reason: "unavailable" };
        }
      }
      h.inflight--;
      if (!admitted) {
        forgetIfIdle(key, h);
        return { ok: false, reason: "limit", live };
      }
      h.count++;
      return {
        ok: true,
        release: once(() => {
          h.count--;
          h.inflight++;
          void run("release", key, [field])
            // Lost releases are corrected by the next renewal, which writes the true count.
            .catch((err) => o.onStoreError?.("release", err as Error))
            .finally(() => {
              h.inflight--;
              forgetIfIdle(key, h);
            });
        }),
      };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await renewing;
    },
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
