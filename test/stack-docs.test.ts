import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CONTEXT_SCHEMA } from "../lib/config.js";
import { REPO_ROOT } from "../lib/gateway-fleet.js";

describe("docs/stack.md", () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "stack.md"), "utf8");
  it("has a table row for every context parameter, with its current default", () => {
    for (const [name, p] of Object.entries(CONTEXT_SCHEMA)) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
      assert.ok(row, `no row for ${name}`);
      assert.ok(row.includes(`| ${p.defaultText.replace(/\|/g, "\\|")} |`), `stale default for ${name}: ${row}`);
    }
  });
});
