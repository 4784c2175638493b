/**
 * Where `npm run local` keeps its per-run dev secret, so `npm run token` and
 * `npm run demo` can sign tokens its gateways accept. `.local/` is gitignored.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../topology/gateway-process.js";

export const DEV_SECRET_FILE = join(REPO_ROOT, ".local", "dev-secret");

export function writeDevSecret(secret: string): void {
  mkdirSync(join(REPO_ROOT, ".local"), { recursive: true });
  writeFileSync(DEV_SECRET_FILE, secret + "\n", { mode: 0o600 });
  chmodSync(DEV_SECRET_FILE, 0o600);
}

/** AUTH_SECRET from the environment, else the secret of the running `npm run local`, else undefined. */
export function readDevSecret(): string | undefined {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  try {
    return readFileSync(DEV_SECRET_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
