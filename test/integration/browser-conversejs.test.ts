// A real web client end to end (issue 14): Converse.js, from its npm package, in Debian's headless
// Chromium, logs in to Parley and talks to slixmpp on TCP one to one, shares a file by HTTP upload
// (XEP-0363) that slixmpp downloads byte for byte, and talks in a room. One browser for the whole
// file; each scenario gets a browser context of its own.
//
// Each transport is one entry of TRANSPORTS: the same scenario runs over WebSocket and over BOSH
// (XEP-0206, mod_bosh), which Converse reaches cross-origin (CORS) from the page's own server.
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import { artifactPath, launchChromium } from "../helpers/browser.js";
import { ConverseChat, ConverseSite, type ConverseOptions } from "../helpers/converse-page.js";
import { xml } from "../helpers/client.js";
import { available, Launcher, password, until } from "../helpers/interop-launcher.js";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import { assertPythonModule } from "../helpers/python-client.js";
import { iq } from "../modules/mod_muc.helpers.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

interface WebTransport {
  /** As in test names and log lines' `transport`. */
  name: string;
  /** Converse's options to connect over it. */
  options: (t: InteropServer) => ConverseOptions;
}

const TRANSPORTS: WebTransport[] = [
  {
    name: "websocket",
    options: (t) => ({ websocket_url: `ws://127.0.0.1:${t.httpPort}/ws` }),
  },
  {
    name: "bosh",
    options: (t) => ({ bosh_service_url: `http://127.0.0.1:${t.httpPort}/bosh` }),
  },
];

/** The shipped config's web paths (mod_bosh comes with its modules). */
const HANDLERS = [
  { path: "/ws", handler: "ejabberd_http_ws" },
  { path: "/bosh", handler: "mod_bosh" },
];

const MUC = "conference.localhost";

describe("Converse.js in headless Chromium (a real web client)", function () {
  this.timeout(60_000);
  let t: InteropServer;
  let site: ConverseSite;
  let browser: Browser;
  const launcher = new Launcher(SLIXMPP, () => t);
  const pages: ConverseChat[] = [];

  before(async () => {
    assertPythonModule(SLIXMPP.module, SLIXMPP.debianPackage);
    browser = await launchChromium();
    t = await startInteropServer({ http: HANDLERS });
    site = await ConverseSite.start();
  });
  afterEach(async () => {
    await launcher.cleanup();
    await Promise.all(pages.splice(0).map((p) => p.close()));
  });
  after(async () => {
    await browser?.close();
    await site?.stop();
    await t?.stop();
  });

  /** Converse.js logged in as `user` over `transport`, in fullscreen view. */
  async function converse(transport: WebTransport, user: string): Promise<ConverseChat> {
    await t.register(user, password(user));
    const chat = await ConverseChat.open(
      browser,
      site.page({
        ...transport.options(t),
        discover_connection_methods: false,
        auto_login: true,
        jid: `${user}@localhost`,
        password: password(user),
        view_mode: "fullscreen",
        auto_reconnect: false,
        muc_instant_rooms: true,
      }),
    );
    pages.push(chat);
    await chat.connected();
    return chat;
  }

  /**
   * Waits until a new room's owner has configured it: until then it is locked, others are refused
   * (XEP-0045 §10.1.1) and it is left out of the service's disco#items (§6.3), and Converse's
   * instant-room request leaves no trace in its DOM.
   */
  async function unlocked(room: string): Promise<void> {
    const probe = await t.client("room-probe");
    const items = xml("query", { xmlns: "http://jabber.org/protocol/disco#items" });
    await until(
      async () =>
        (await iq(probe, "get", MUC, items))
          .getChild("query")
          ?.getChildren("item")
          .some((i) => i.attrs.jid === room) === true,
      `${room} is unlocked`,
      15_000,
    );
  }

  for (const transport of TRANSPORTS) {
    it(`over ${transport.name}: logs in, chats one to one, shares a file by HTTP upload and chats in a room with slixmpp on TCP`, async () => {
      const web = `web-${transport.name}`;
      const webJid = `${web}@localhost`;
      const chat = await converse(transport, web);
      const login = t.logs.find((l) => l.msg === "authenticated" && l.transport === transport.name);
      assert.ok(login, `a login over ${transport.name} in the server's log`);

      const slix = await launcher.start(`slix-${transport.name}`);
      const slixJid = `slix-${transport.name}@localhost`;
      await available(slix, `${slixJid}/slixmpp`);

      // One to one, both ways; slixmpp is not in the roster (an "unsaved contact" to Converse).
      slix.send({ cmd: "message", to: webJid, body: "hello from slixmpp" });
      await chat.openChat(slixJid);
      await chat.shows(slixJid, "hello from slixmpp");
      await chat.say(slixJid, "hello from the browser");
      const got = await slix.next("message", (e) => e.body === "hello from the browser");
      assert.equal(got.type, "chat");
      assert.match(String(got.from), new RegExp(`^${webJid}/`));

      // A file, by HTTP upload (XEP-0363): Converse gets a slot from upload.localhost, PUTs the
      // file cross-origin (CORS) and sends its link, which slixmpp downloads byte for byte.
      const file = randomBytes(300_000);
      const path = join(t.dir, `report-${transport.name}.pdf`);
      writeFileSync(path, file);
      await chat.share(slixJid, path);
      const link = await slix.next("message", (e) =>
        /^https?:\/\/.*\/upload\//.test(String(e.body)),
      );
      assert.match(String(link.xml), /jabber:x:oob/, "the link as out-of-band data (XEP-0066)");
      slix.send({ cmd: "download", url: link.body });
      const fetched = await slix.next("download");
      assert.equal(fetched.status, 200);
      assert.equal(fetched.content_type, "application/pdf");
      assert.equal(fetched.size, file.length);
      assert.equal(
        fetched.sha256,
        createHash("sha256").update(file).digest("hex"),
        "the same bytes",
      );

      // A room: Converse creates it (an instant room), slixmpp joins, each hears the other.
      const room = `browser-${transport.name}@${MUC}`;
      await chat.joinRoom(room, "web");
      await unlocked(room);
      slix.send({ cmd: "join", room, nick: "slix" });
      await slix.next("joined");
      slix.send({ cmd: "message", to: room, type: "groupchat", body: "hi room from slixmpp" });
      await chat.shows(room, "hi room from slixmpp");
      await chat.say(room, "hi room from the browser");
      const said = await slix.next("message", (e) => e.body === "hi room from the browser");
      assert.equal(said.from, `${room}/web`);

      const shot = artifactPath(`conversejs-${transport.name}.png`);
      await chat.screenshot(shot);
      console.log(`      screenshot: ${shot}`);
    });
  }
});
