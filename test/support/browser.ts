/**
 * Headless Chromium for the browser tests: Debian's `chromium` package,
 * driven by playwright-core (no bundled browser download). A missing browser
 * is a failure with the install line, never a skip: CI installs it.
 */
import { existsSync } from "node:fs";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/**
 * Without the background-networking flags Chromium reaches out to Google
 * services at start-up; on a closed network those connections are refused
 * and slow every launch. The GPU and sandbox are unavailable in a container.
 */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  /** A new window with its own storage, as a second person would have. */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it (Debian/Ubuntu: \`apt-get install -y chromium\`) or set CHROMIUM_PATH`,
    );
  }
  // playwright-core's launch() gives Chromium a fresh temporary profile
  // (user-data-dir) and deletes it on close: no state carried between runs.
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 60_000 });
  return {
    newContext: (viewport = { width: 1280, height: 900 }) => browser.newContext({ viewport }),
    close: () => browser.close(),
  };
}
