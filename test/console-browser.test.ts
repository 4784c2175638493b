/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The console page in a real browser (headless Chromium) against the local
 * balancer and two gateway processes on a real 3-shard Redis cluster: two
 * windows land on different gateways and see each other's events with the
 * relaying and delivering gateways, errors are shown, the fleet panel agrees
 * with Redis, and a gateway shutting down shows "reconnecting" before the
 * page lands on the other gateway. Writes docs/console.png and
 * docs/console-mobile.png for the README.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { mintDevToken } from "../topology/dev-auth.js";
import type { Page } from "playwright-core";
import { freePorts, startGatewayProcess, startTopology, type Topology } from "../topology/index.js";
import { launchChromium, type Browser } from "./support/browser.js";

const DOCS = fileURLToPath(new URL("../docs/", import.meta.url));
/** Generous: two shared cores, other suites running; nothing here is a timing assertion. */
const WAIT_MS = 20_000;

async function connectedGateway(page: Page): Promise<string> {
  await page.waitForFunction(() => document.getElementById("state")?.dataset.state === "connected", null, { timeout: WAIT_MS });
  return (await page.textContent("#gateway"))!.trim();
}

async function openConsole(browser: Browser, url: string, viewport?: { width: number; height: number }): Promise<Page> {
  const page = await (await browser.newContext(viewport)).newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(err.message));
  (page as Page & { problems?: string[] }).problems = problems;
  // Authentication is on: each page gets its own development token, in the
  // URL fragment as `npm run local` prints it.
  await page.goto(`${url}#token=${await mintDevToken()}`);
  return page;
}

function pageErrors(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

async function joinCall(page: Page, callId: string): Promise<void> {
  await page.fill("#call-id", callId);
  await page.click("#join");
  await page.waitForFunction((id) => document.getElementById("membership")?.textContent?.includes(id), callId, { timeout: WAIT_MS });
}

describe("console page in headless Chromium, through the balancer", () => {
  let browser: Browser;
  let topo: Topology;
  let url = "";
  let pageA: Page;
  let pageB: Page;
  let gwA = "";
  let gwB = "";

  before(async () => {
    // The browser first: a missing Chromium fails here with the install line.
    browser = await launchChromium();
    topo = await startTopology({ gateways: 2, balancer: true });
    url = `http://127.0.0.1:${topo.balancer!.port}/`;
  });
  after(async () => {
    await browser?.close();
    await topo?.stop();
  });

  it("two windows land on different gateways; one sends, the other shows the event with both gateways and a latency", async () => {
    const ids = topo.gateways.map((g) => `gw-${g.port}`);
    pageA = await openConsole(browser, url);
    pageB = await openConsole(browser, url);
    gwA = await connectedGateway(pageA);
    gwB = await connectedGateway(pageB);
    // Round robin counts every TCP connection (the page's HTTP requests too),
    // so B may land beside A; each reconnect is a new connection and the next
    // gateway in turn, so a few tries settle it.
    for (let tries = 0; gwB === gwA && tries < 6; tries++) {
      const connects = await pageB.locator("#log li.system", { hasText: "connected to gw-" }).count();
      await pageB.click("#connect");
      await pageB.waitForFunction(
        (n) => [...document.querySelectorAll("#log li.system")].filter((li) => li.textContent?.includes("connected to gw-")).length > n,
        connects,
        { timeout: WAIT_MS },
      );
      gwB = await connectedGateway(pageB);
    }
    assert.ok(ids.includes(gwA), `page A shows ${gwA}, one of ${ids.join(", ")}`);
    assert.ok(ids.includes(gwB), `page B shows ${gwB}, one of ${ids.join(", ")}`);
    assert.notEqual(gwA, gwB, "the two windows are on different gateways");

    await joinCall(pageA, "browser-call");
    await joinCall(pageB, "browser-call");

    // Keyboard: Enter in the data field sends.
    await pageA.fill("#event-type", "note");
    await pageA.fill("#event-data", '{"text":"hello from A"}');
    await pageA.press("#event-data", "Enter");

    const received = pageB.locator('#log li.received[data-type="note"]').first();
    await received.waitFor({ timeout: WAIT_MS });
    assert.equal(await received.getAttribute("data-via"), gwA, "relayed by the sender's gateway");
    assert.equal(await received.getAttribute("data-delivered-by"), gwB, "delivered by the receiver's gateway");
    assert.equal(await received.getAttribute("data-call-id"), "browser-call");
    const text = (await received.textContent())!;
    assert.match(text, /hello from A/);
    assert.match(text, new RegExp(`via ${gwA} → delivered by ${gwB} · -?\\d+ ms`));

    await pageA.locator("#log li.ack", { hasText: "sent note to browser-call: ok" }).waitFor({ timeout: WAIT_MS });
    assert.equal(await pageA.locator("#log li.received").count(), 0, "the sender does not receive its own event");
    assert.deepEqual([...pageErrors(pageA), ...pageErrors(pageB)], []);
  });

  it("an invalid call id shows its error code and what to do; sending outside a call shows not_in_call", async () => {
    await pageA.fill("#call-id", "not a call id!");
    await pageA.click("#join");
    const panel = pageA.locator("#error-panel");
    await panel.waitFor({ state: "visible", timeout: WAIT_MS });
    assert.equal(await panel.getAttribute("data-code"), "invalid_call_id");
    const shown = (await pageA.textContent("#error"))!;
    assert.match(shown, /Invalid call id: use 1 to 64 characters/);
    assert.match(shown, /invalid_call_id/);
    assert.match(shown, /callId must be 1-64 characters/, "the gateway's own message is shown too");
    assert.equal(await pageA.getAttribute("#error", "role"), "alert", "announced to screen readers");

    await pageA.fill("#call-id", "never-joined");
    await pageA.press("#event-data", "Enter");
    await pageA.waitForFunction(() => document.getElementById("error-panel")?.dataset.code === "not_in_call", null, { timeout: WAIT_MS });
    assert.match((await pageA.textContent("#error"))!, /Join the call before sending to it/);
    await pageA.click("#dismiss-error");
    assert.equal(await panel.isVisible(), false);
    await pageA.fill("#call-id", "browser-call");
  });

  it("the fleet panel lists both gateways with their connections and the 3 shards with the channel counts Redis reports", async () => {
    for (const [page, mine] of [[pageA, gwA], [pageB, gwB]] as const) {
      await page.waitForFunction(
        (want) => want.every((id) => document.querySelector(`#gateways tr[data-gateway="${id}"]`)),
        [gwA, gwB],
        { timeout: WAIT_MS },
      );
      assert.equal(await page.locator("#gateways tbody tr").count(), 2);
      // Each window holds one /calls and one /dashboard socket on its gateway.
      for (const gw of [gwA, gwB]) {
        const row = page.locator(`#gateways tr[data-gateway="${gw}"]`);
        await page.waitForFunction(
          (id) => {
            const r = document.querySelector(`#gateways tr[data-gateway="${id}"]`);
            return r?.querySelector(".calls")?.textContent === "1" && r?.querySelector(".dashboard")?.textContent === "1";
          },
          gw,
          { timeout: WAIT_MS },
        );
        assert.match((await row.textContent())!, /serving/);
      }
      assert.match((await page.locator(`#gateways tr[data-gateway="${mine}"]`).textContent())!, /this page/);
    }

    // Channel counts straight from each primary, compared with the panel.
    const redisCounts = () =>
      Object.fromEntries(
        topo.redis.nodes.map((n) => {
          const out = topo.redis.cli(n.port, "PUBSUB", "SHARDCHANNELS").split("\n").filter((l) => l.trim() !== "");
          return [String(n.port), out.length];
        }),
      );
    const deadline = Date.now() + WAIT_MS;
    let shown: Record<string, number> = {};
    let expected: Record<string, number> = {};
    for (;;) {
      shown = await pageB.evaluate(() =>
        Object.fromEntries(
          [...document.querySelectorAll<HTMLElement>("#shards tbody tr")].map((tr) => [
            tr.dataset.node!.split(":").pop()!,
            Number(tr.querySelector(".channels")?.textContent),
          ]),
        ),
      );
      expected = redisCounts();
      if (JSON.stringify(shown) === JSON.stringify(expected)) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(Object.keys(shown).length, 3, "three shards listed");
    assert.deepEqual(shown, expected);
    const total = Object.values(shown).reduce((a, b) => a + b, 0);
    assert.ok(total >= 2, `the call's room and the fleet room each have a channel (total ${total})`);
  });

  it("writes screenshots of the page after the exchange, desktop and phone width (375 px, no sideways scrolling)", async () => {
    mkdirSync(DOCS, { recursive: true });
    await pageB.screenshot({ path: `${DOCS}console.png`, fullPage: true });

    const phone = await openConsole(browser, url, { width: 375, height: 812 });
    await connectedGateway(phone);
    await joinCall(phone, "browser-call");
    await pageA.fill("#event-data", '"hi from the other gateway"');
    await pageA.press("#event-data", "Enter");
    await phone.locator("#log li.received").first().waitFor({ timeout: WAIT_MS });
    await phone.locator("#shards tbody tr").first().waitFor({ timeout: WAIT_MS });
    await phone.waitForFunction(() => document.querySelectorAll("#gateways tbody tr").length === 2, null, { timeout: WAIT_MS });
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page is ${width} px wide at a 375 px viewport`);
    await phone.screenshot({ path: `${DOCS}console-mobile.png`, fullPage: true });
    assert.deepEqual(pageErrors(phone), []);
    await phone.context().close();
  });

  it("is usable with a keyboard: every input is labelled and Tab reaches every control", async () => {
    const unlabelled = await pageA.evaluate(() =>
      [...document.querySelectorAll("input")].filter((i) => !i.labels || i.labels.length === 0).map((i) => i.id),
    );
    assert.deepEqual(unlabelled, []);
    await pageA.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const reached = new Set<string>();
    for (let i = 0; i < 30; i++) {
      await pageA.keyboard.press("Tab");
      const id = await pageA.evaluate(() => document.activeElement?.id ?? "");
      if (id) reached.add(id);
    }
    for (const id of ["token", "connect", "disconnect", "call-id", "join", "watch", "leave", "event-type", "event-data", "send", "clear-log"]) {
      assert.ok(reached.has(id), `Tab reaches #${id} (reached: ${[...reached].join(", ")})`);
    }
  });

  it("shows reconnecting when its gateway shuts down, then lands on the other gateway and rejoins the call", async () => {
    await pageA.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      const state = document.getElementById("state")!;
      new MutationObserver(() => seen.push(`${state.dataset.state}: ${state.textContent}`)).observe(state, {
        attributes: true,
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    const gatewayOfA = topo.gateways.find((g) => `gw-${g.port}` === gwA)!;
    await gatewayOfA.stop();
    await pageA.waitForFunction(
      (old) => document.getElementById("state")?.dataset.state === "connected" && document.getElementById("gateway")?.textContent !== old,
      gwA,
      { timeout: 60_000 },
    );
    const seen = await pageA.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
    assert.ok(seen.some((s) => s.startsWith("reconnecting")), `a reconnecting state was shown: ${seen.join(" | ")}`);
    assert.equal((await pageA.textContent("#gateway"))!.trim(), gwB);

    // The page rejoined the call on its new gateway: B's events reach it.
    // (Possibly more than once: a draining gateway can close the socket after the page already moved.)
    await pageA.locator("#log li.ack", { hasText: "rejoin browser-call: ok" }).first().waitFor({ timeout: WAIT_MS });
    await pageB.fill("#event-type", "after-failover");
    await pageB.press("#event-data", "Enter");
    const got = pageA.locator('#log li.received[data-type="after-failover"]').first();
    await got.waitFor({ timeout: WAIT_MS });
    assert.equal(await got.getAttribute("data-via"), gwB);
    assert.equal(await got.getAttribute("data-delivered-by"), gwB);
  });

  it("on a gateway without /dashboard it says so; when no gateway answers it shows the error and keeps retrying", async () => {
    const [port] = await freePorts(1);
    const lone = startGatewayProcess({ port, env: { REDIS_MODE: "memory", NAMESPACES: "/calls" } });
    try {
      await lone.waitReady();
      const page = await openConsole(browser, `${lone.url}/`);
      assert.equal(await connectedGateway(page), `gw-${port}`);
      await page.waitForFunction(() => document.getElementById("fleet-note")?.dataset.unavailable === "true", null, { timeout: WAIT_MS });
      assert.match((await page.textContent("#fleet-note"))!, /does not serve \/dashboard/);

      await lone.stop();
      await page.waitForFunction(() => document.getElementById("error-panel")?.dataset.code === "unreachable", null, { timeout: WAIT_MS });
      assert.match((await page.textContent("#error"))!, /Cannot reach a gateway/);
      assert.equal(await page.getAttribute("#state", "data-state"), "reconnecting");
      assert.deepEqual(pageErrors(page), []);
      await page.context().close();
    } finally {
      await lone.stop();
    }
  });
});
