/** What the bench ran on, recorded with every result (figures mean little without it). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { openFilesLimit } from "../loadtest/options.js";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  redis: string;
  openFilesLimit: number;
  loadAverageAtStart: number[];
  kernel: string;
}

export function describeMachine(): Machine {
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    /* not Linux */
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: /v=(\S+)/.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? "unknown",
    openFilesLimit: openFilesLimit(),
    loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
    kernel,
  };
}
