/** Starts test/support/emitter-service.ts as a child process and talks to it line by line. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../../topology/gateway-process.js";

const ENTRY = fileURLToPath(new URL("./emitter-service.ts", import.meta.url));

export interface EmitCommand {
  namespace: string;
  rooms?: string[];
  except?: string[];
  event: string;
  args?: unknown[];
  retry?: boolean;
}

export interface EmitterProcess {
  readonly pid: number;
  readonly uid: string;
  emit(command: EmitCommand, timeoutMs?: number): Promise<any>;
  stop(): Promise<void>;
}

export async function startEmitterProcess(redisSeeds: string): Promise<EmitterProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY], {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_NODES: redisSeeds },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  const pending = new Map<number, (result: any) => void>();
  let onReady: (hello: any) => void;
  const ready = new Promise<any>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const msg = JSON.parse(line);
    if (msg.ready) return onReady(msg);
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const hello = await Promise.race([
    ready,
    exited.then(() => Promise.reject(new Error(`emitter process exited before ready:\n${stderr.join("")}`))),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`emitter process not ready in 20 s:\n${stderr.join("")}`)), 20_000)),
  ]);
  let nextId = 1;
  return {
    pid: child.pid!,
    uid: hello.uid,
    emit(command, timeoutMs = 10_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from the emitter process in ${timeoutMs} ms:\n${stderr.join("")}`)), timeoutMs);
        pending.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        child.stdin!.write(JSON.stringify({ id, ...command }) + "\n");
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
