/**
 * A gateway as a real child process (the same entry point the container
 * runs), with its output kept for inspection and helpers to wait for
 * readiness, signal it and stop it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { devAuthEnv } from "./dev-auth.js";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const GATEWAY_ENTRY = fileURLToPath(new URL("../gateway/src/main.ts", import.meta.url));

export interface GatewayProcessOptions {
  port: number;
  /**
   * Extra environment for the gateway (REDIS_MODE, REDIS_NODES, ...). By
   * default a gateway trusts this process's dev tokens (dev-auth.ts) and has
   * no per-IP connection rate, since every loopback client shares one IP.
   */
  env?: Record<string, string>;
  /** Called with each line the gateway writes (JSON log lines on stdout, errors on stderr). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Extra node flags, e.g. ["--max-old-space-size=4096"]. */
  nodeArgs?: string[];
  /**
   * The server entry file to run instead of the gateway's, e.g. the bench's
   * stock Socket.IO server. It must listen on PORT and answer 200 on /readyz.
   */
  entry?: string;
}

export interface GatewayProcess {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  waitReady(timeoutMs?: number): Promise<void>;
  readyz(): Promise<{ status: number; body: any }>;
  signal(signal: NodeJS.Signals): void;
  /**
   * SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. Without
   * `drain`, a second SIGTERM follows shortly, which makes the gateway close
   * its connections at once (teardown); with it, the gateway drains over its
   * DRAIN_SECONDS window as in a deploy.
   */
  stop(timeoutMs?: number, o?: { drain?: boolean }): Promise<number | string>;
}

export function startGatewayProcess(o: GatewayProcessOptions): GatewayProcess {
  const child = spawn(process.execPath, ["--import", "tsx", ...(o.nodeArgs ?? []), o.entry ?? GATEWAY_ENTRY], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...devAuthEnv(),
      CONNECT_RATE_PER_IP: "0",
      HOST: "127.0.0.1",
      PORT: String(o.port),
      GATEWAY_ID: `gw-${o.port}`,
      ...o.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a Ctrl-C in the terminal reaches only the
    // orchestrator, which then stops each gateway once, in order.
    detached: true,
  });
  const output: string[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    let pending = "";
    child[stream]!.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (output.length < 5000) output.push(line);
        o.onLine?.(line, stream);
      }
    });
  }
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, sig) => resolve(code ?? sig ?? -1)));
  const url = `http://127.0.0.1:${o.port}`;

  const readyz = async () => {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };

  let exitCode: number | string | undefined;
  void exited.then((c) => (exitCode = c));

  return {
    port: o.port,
    url,
    child,
    output,
    exited,
    readyz,
    async waitReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitCode !== undefined) {
          throw new Error(`gateway on ${o.port} exited (${exitCode}) before ready:\n${output.slice(-20).join("\n")}`);
        }
        try {
          if ((await readyz()).status === 200) return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) {
          throw new Error(`gateway on ${o.port} not ready after ${timeoutMs} ms:\n${output.slice(-20).join("\n")}`);
        }
        await sleep(100);
      }
    },
    signal(signal) {
      if (exitCode === undefined) child.kill(signal);
    },
    async stop(timeoutMs = 10_000, { drain = false } = {}) {
      if (exitCode !== undefined) return exitCode;
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      // Signals do not queue: the second must come after the first was handled.
      const again = drain ? undefined : setInterval(() => exitCode === undefined && child.kill("SIGTERM"), 300);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      clearInterval(again);
      return code;
    },
  };
}
