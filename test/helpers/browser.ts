/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven by puppeteer-core
 * (which downloads no browser of its own), and the folder where tests leave screenshots.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser } from "puppeteer-core";

/** Where Debian's chromium package puts the browser; PARLEY_CHROMIUM names another. */
export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";

/** Screenshots and other files a test leaves for a person to look at (git-ignored). */
export const ARTIFACTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "test-artifacts",
);

/** Fails, saying what to install, when there is no browser: these tests never skip. */
export function assertChromium(): void {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: install Debian's with ` +
      "apt-get install -y --no-install-recommends chromium (.ci/run does), " +
      "or set PARLEY_CHROMIUM to another Chromium's path",
  );
}

/** One headless Chromium; share it between the tests of a file (a launch costs seconds). */
export async function launchChromium(): Promise<Browser> {
  assertChromium();
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // Chromium's sandbox refuses to run as root, which CI is.
      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
      // Containers often have a tiny /dev/shm; Chromium then crashes tabs.
      "--disable-dev-shm-usage",
    ],
  });
}

/** A path under test-artifacts/ for `name`, the folder made if needed. */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
