/**
 * Converse.js (the `converse.js` npm package) in a real browser page: a tiny HTTP server on
 * loopback serves a page that loads the package's dist/ build and starts Converse with the options
 * a test gives, and `ConverseChat` drives that page through its own UI (typing and pressing
 * Enter) and reads what it shows from the DOM.
 *
 * A test page registers one plugin, `parley-test`, which only hands Converse's public `api` to
 * the test (to open a chat or a room, as clicking through the roster would) and records the
 * `connected` event.
 */
import { createServer, type Server } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, resolve, sep } from "node:path";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, ElementHandle, Page } from "puppeteer-core";
import { artifactPath } from "./browser.js";

const require = createRequire(import.meta.url);
/** node_modules/converse.js/dist: converse.min.js and .css, chunks, emoji, fonts, wasm. */
export const CONVERSE_DIST = dirname(require.resolve("converse.js/dist/converse.min.js"));

const TYPES: Record<string, string> = {
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".map": "application/json",
};

/** How long a wait on the page may take before the test fails with what the page logged. */
const WAIT_MS = 15_000;

/** Converse's options, as given to converse.initialize(). */
export type ConverseOptions = Record<string, unknown>;

/**
 * Serves the package's dist/ at its root, as a deployment would (Converse and its OMEMO library
 * load their chunks, fonts and WebAssembly from there), and `/parley-<n>.html`, a page starting
 * Converse with the n-th options given to page(). http://127.0.0.1 is a secure context for the
 * browser, as https would be.
 */
export class ConverseSite {
  private constructor(
    private server: Server,
    readonly origin: string,
    private pages: ConverseOptions[],
  ) {}

  static async start(): Promise<ConverseSite> {
    const pages: ConverseOptions[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const page = /^\/parley-(\d+)\.html$/.exec(url.pathname);
      if (page && pages[Number(page[1])]) {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(pageHtml(pages[Number(page[1])]!));
        return;
      }
      const file = resolve(CONVERSE_DIST, "." + decodeURIComponent(url.pathname));
      // No path outside dist/ (a "/../x" is normalised by URL, "%2e%2e" is not).
      if (!file.startsWith(CONVERSE_DIST + sep) || !isFile(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const { port } = server.address() as AddressInfo;
    return new ConverseSite(server, `http://127.0.0.1:${port}`, pages);
  }

  /** The URL of a page that starts Converse with these options. */
  page(options: ConverseOptions): string {
    this.pages.push(options);
    return `${this.origin}/parley-${this.pages.length - 1}.html`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
}

function isLocal(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "data:" || ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function pageHtml(options: ConverseOptions): string {
  const init = {
    ...options,
    assets_path: "/",
    whitelisted_plugins: ["parley-test"],
  };
  // JSON inside <script>: "<" escaped so no "</script>" can end it early.
  const json = JSON.stringify(init).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Converse.js on Parley</title>
<link rel="stylesheet" href="/converse.min.css">
</head>
<body class="converse-fullscreen">
<script type="module">
// The package's build is an ES module (it loads its chunks relative to import.meta.url).
import converse from "/converse.min.js";
converse.plugins.add("parley-test", {
  initialize() {
    const test = { api: this._converse.api, connected: false };
    test.api.listen.on("connected", () => { test.connected = true; });
    window.parleyTest = test;
  },
});
converse.initialize(${json});
</script>
</body>
</html>
`;
}

/** What the page's window holds for the test (see the plugin above). */
interface TestWindow {
  parleyTest?: {
    connected: boolean;
    api: {
      // force: bring it to the foreground, as clicking it in the list does.
      chats: { open(jid: string, attrs: object, force: boolean): Promise<unknown> };
      rooms: { open(jid: string, attrs: object, force: boolean): Promise<unknown> };
    };
  };
}

/** One Converse.js in its own browser context (its own storage), driven through its UI. */
export class ConverseChat {
  /** Console lines and page errors, shown when a wait fails. */
  readonly console: string[] = [];

  private constructor(
    private context: BrowserContext,
    readonly page: Page,
  ) {
    page.on("console", (m) => this.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => this.console.push(`pageerror: ${String(e)}`));
    page.on("requestfailed", (r) =>
      this.console.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ""}`),
    );
    page.on("response", (r) => {
      if (r.status() >= 400) this.console.push(`HTTP ${r.status()}: ${r.url()}`);
    });
  }

  static async open(browser: Browser, url: string): Promise<ConverseChat> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const chat = new ConverseChat(context, page);
    // Nothing leaves this machine (the login form links sponsors' logos on conversejs.org);
    // the page's own server and Parley's listeners are on loopback.
    await page.setRequestInterception(true);
    page.on("request", (r) => {
      if (isLocal(r.url())) void r.continue();
      else void r.abort("blockedbyclient");
    });
    await page.goto(url);
    return chat;
  }

  /** Waits until `fn(...args)` holds in the page; fails with the page's console if it never does. */
  async until(what: string, fn: (...args: string[]) => unknown, ...args: string[]): Promise<void> {
    try {
      await this.page.waitForFunction(fn, { timeout: WAIT_MS, polling: 100 }, ...args);
    } catch (err) {
      const tail = this.console.slice(-40).join("\n");
      const shot = artifactPath("conversejs-failed.png");
      await this.screenshot(shot).catch(() => undefined);
      throw new Error(
        `Converse.js: ${what}: ${(err as Error).message} (screenshot: ${shot})\n--- console:\n${tail}`,
      );
    }
  }

  /** Waits until the page has an element matching `selector`. */
  async has(selector: string): Promise<void> {
    await this.until(selector, (s: string) => document.querySelector(s) !== null, selector);
  }

  /** Waits for Converse's `connected` event: logged in, resource bound, session started. */
  async connected(): Promise<void> {
    await this.until(
      "logged in",
      () => (window as unknown as TestWindow).parleyTest?.connected === true,
    );
  }

  /** Opens a one-to-one chat, as clicking a contact would. */
  async openChat(jid: string): Promise<void> {
    await this.page.evaluate(async (j) => {
      await (window as unknown as TestWindow).parleyTest!.api.chats.open(j, {}, true);
    }, jid);
    await this.has(`converse-chat[jid="${jid}"] .chat-textarea`);
  }

  /** Joins a room (created as an instant room if new, XEP-0045 §10.1.2), as the rooms list would. */
  async joinRoom(jid: string, nick: string): Promise<void> {
    await this.page.evaluate(
      async (j, n) => {
        await (window as unknown as TestWindow).parleyTest!.api.rooms.open(j, { nick: n }, true);
      },
      jid,
      nick,
    );
    await this.has(`converse-muc[jid="${jid}"] .chat-textarea`);
  }

  /** Types `text` in the chat's (or room's) message box and presses Enter. */
  async say(jid: string, text: string): Promise<void> {
    const box = `[jid="${jid}"] .chat-textarea`;
    await this.page.type(box, text);
    await this.page.keyboard.press("Enter");
  }

  /** Waits until the chat with `jid` shows a message whose text contains `text`. */
  async shows(jid: string, text: string): Promise<void> {
    await this.until(
      `a message "${text}" in ${jid}`,
      (j: string, s: string) =>
        [...document.querySelectorAll(`[jid="${j}"] .chat-msg__text`)].some((e) =>
          (e.textContent ?? "").includes(s),
        ),
      jid,
      text,
    );
  }

  /**
   * Shares a file in the chat with `jid` through Converse's upload button (XEP-0363: Converse
   * asks the server's upload service for a slot, PUTs the file and sends its link).
   */
  async share(jid: string, file: string): Promise<void> {
    const input = `[jid="${jid}"] input.fileupload`;
    await this.has(input);
    const handle = await this.page.$(input);
    await (handle as ElementHandle<HTMLInputElement>).uploadFile(file);
  }

  async screenshot(path: string): Promise<void> {
    await this.page.screenshot({ path: path as `${string}.png`, fullPage: false });
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
