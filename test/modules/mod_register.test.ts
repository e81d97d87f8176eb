import { strict as assert } from "node:assert";
import {
  connect,
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import { accessFrom } from "../helpers/config-text.js";
import type { Element } from "@xmpp/xml";

const NS = "jabber:iq:register";
const FEATURE = '<register xmlns="http://jabber.org/features/iq-register"/>';
const STRONG = "Tr0ub4dor-3-horse";
let seq = 0;

/** Sends an IQ on a raw stream and returns the text of the answer with the same id. */
async function rawIq(raw: RawClient, type: "get" | "set", body: string): Promise<string> {
  const id = `raw${++seq}`;
  raw.send(`<iq type='${type}' id='${id}' to='localhost'>${body}</iq>`);
  const pattern = new RegExp(`<iq[^>]*id="${id}"[^>]*?(/>|>[\\s\\S]*?</iq>)`);
  const text = await raw.readUntil(pattern);
  return text.match(pattern)![0];
}

function registerBody(username?: string, password?: string): string {
  const u = username === undefined ? "" : `<username>${username}</username>`;
  const p = password === undefined ? "" : `<password>${password}</password>`;
  return `<query xmlns='${NS}'>${u}${p}</query>`;
}

/** The condition of a raw IQ error, or "result". */
function outcome(iq: string): string {
  if (/type="result"/.test(iq)) return "result";
  return /<([a-z-]+) xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/.exec(iq)?.[1] ?? iq;
}

/** A fresh encrypted, unauthenticated stream. */
async function secureStream(t: TestServer): Promise<{ raw: RawClient; features: string }> {
  const raw = await RawClient.connect(t.port);
  const features = await raw.starttls();
  return { raw, features };
}

async function registerRaw(t: TestServer, username: string, password = STRONG) {
  const { raw } = await secureStream(t);
  try {
    return outcome(await rawIq(raw, "set", registerBody(username, password)));
  } finally {
    raw.end();
  }
}

async function iq(c: TestClient, type: "get" | "set", payload: Element, to?: string) {
  const id = `r${++seq}`;
  await c.send(xml("iq", { type, id, to }, payload));
  return c.next((el) => el.attrs.id === id);
}

function query(...children: Element[]): Element {
  return xml("query", { xmlns: NS }, ...children);
}

function login(t: TestServer, username: string, password: string): Promise<TestClient> {
  return connect({ port: t.port, username, password });
}

describe("mod_register (XEP-0077)", () => {
  let t: TestServer;
  const modules = {
    mod_disco: {},
    mod_register: { access: "all", registration_timeout: 0, password_strength: 30 },
  };
  const reconfigure = (mods: Record<string, Record<string, unknown>>) =>
    t.server.modules.reload({ ...t.config, modules: mods });

  before(async () => {
    t = await startTestServer({ modules });
  });
  after(async () => t.stop());

  describe("before authentication", () => {
    it("offers the iq-register stream feature on encrypted streams only (XEP-0077 §8, §11)", async () => {
      const raw = await RawClient.connect(t.port);
      raw.header();
      const plain = await raw.readUntil("</stream:features>");
      assert.ok(!plain.includes(FEATURE), plain);
      raw.end();
      const { raw: tls, features } = await secureStream(t);
      assert.ok(features.includes(FEATURE), features);
      tls.end();
    });

    it("refuses to register before TLS with not-authorized (XEP-0077 §11)", async () => {
      const raw = await RawClient.connect(t.port);
      raw.header();
      await raw.readUntil("</stream:features>");
      assert.equal(outcome(await rawIq(raw, "get", `<query xmlns='${NS}'/>`)), "not-authorized");
      const res = await rawIq(raw, "set", registerBody("cleartext", STRONG));
      assert.equal(outcome(res), "not-authorized");
      raw.end();
      assert.equal(await t.server.ctx.accounts.exists("cleartext", "localhost"), false);
    });

    it("returns the fields to fill in (XEP-0077 §3.1)", async () => {
      const { raw } = await secureStream(t);
      const res = await rawIq(raw, "get", `<query xmlns='${NS}'/>`);
      assert.equal(outcome(res), "result");
      assert.match(res, /<username\/>/);
      assert.match(res, /<password\/>/);
      assert.match(res, /<instructions>/);
      raw.end();
    });

    it("registers an account the user then logs in with (XEP-0077 §3.1, §3.1.1)", async () => {
      assert.equal(await registerRaw(t, "newbie"), "result");
      const c = await login(t, "newbie", STRONG);
      assert.equal(c.jid.split("/")[0], "newbie@localhost");
      await c.stop();
    });

    it("answers conflict for a username already taken (XEP-0077 §3.1)", async () => {
      await t.register("taken", STRONG);
      assert.equal(await registerRaw(t, "taken"), "conflict");
      assert.equal(await registerRaw(t, "TAKEN"), "conflict", "usernames compare normalized");
    });

    it("answers not-acceptable when a field is missing or the password empty (XEP-0077 §3.1)", async () => {
      const { raw } = await secureStream(t);
      for (const body of [
        registerBody("nopass"),
        registerBody(undefined, STRONG),
        registerBody("emptypass", ""),
        `<query xmlns='${NS}'><username>selfclosed</username><password/></query>`,
      ]) {
        assert.equal(outcome(await rawIq(raw, "set", body)), "not-acceptable", body);
      }
      raw.end();
      assert.equal(await t.server.ctx.accounts.exists("emptypass", "localhost"), false);
    });

    it("answers jid-malformed for a username that is no valid localpart", async () => {
      assert.equal(await registerRaw(t, "bad user@x"), "jid-malformed");
      assert.equal(await registerRaw(t, "a".repeat(1100)), "jid-malformed");
    });

    it("answers not-acceptable to a password weaker than password_strength", async () => {
      assert.equal(await registerRaw(t, "weakling", "abcd"), "not-acceptable");
      assert.equal(await t.server.ctx.accounts.exists("weakling", "localhost"), false);
    });

    it("registers one account per stream (XEP-0077 §3.1.1)", async () => {
      const { raw } = await secureStream(t);
      assert.equal(outcome(await rawIq(raw, "set", registerBody("first1", STRONG))), "result");
      const second = await rawIq(raw, "set", registerBody("second1", STRONG));
      assert.equal(outcome(second), "not-acceptable");
      raw.end();
      assert.equal(await t.server.ctx.accounts.exists("second1", "localhost"), false);
    });

    it("answers unexpected-request to <remove/> before authentication (XEP-0077 §3.2)", async () => {
      const { raw } = await secureStream(t);
      const res = await rawIq(raw, "set", `<query xmlns='${NS}'><remove/></query>`);
      assert.equal(outcome(res), "unexpected-request");
      raw.end();
    });
  });

  describe("after authentication", () => {
    it("tells a user they are registered (XEP-0077 §3.1)", async () => {
      const c = await t.client("reggie", { password: STRONG });
      const res = await iq(c, "get", query(), "localhost");
      assert.equal(res.attrs.type, "result");
      const q = res.getChild("query", NS);
      assert.ok(q?.getChild("registered"));
      assert.equal(q?.getChildText("username"), "reggie");
      await c.stop();
    });

    it("changes the password (XEP-0077 §3.3)", async () => {
      const c = await t.client("pwuser", { password: STRONG });
      const next = "n3w-Pass-phrase!";
      const res = await iq(
        c,
        "set",
        query(xml("username", {}, "pwuser"), xml("password", {}, next)),
        "localhost",
      );
      assert.equal(res.attrs.type, "result");
      await c.stop();
      const again = await login(t, "pwuser", next);
      await again.stop();
      await assert.rejects(login(t, "pwuser", STRONG), "the old password no longer works");
    });

    it("takes a password change sent with no 'to' as well (XEP-0077 §3.3)", async () => {
      const c = await t.client("noto", { password: STRONG });
      const next = "an0ther-Pass-phrase";
      const res = await iq(c, "set", query(xml("username", {}, "noto"), xml("password", {}, next)));
      assert.equal(res.attrs.type, "result");
      await c.stop();
      await (await login(t, "noto", next)).stop();
    });

    it("answers bad-request to a change without username or with an empty password (XEP-0077 §3.3)", async () => {
      const c = await t.client("keeper", { password: STRONG });
      const noUser = await iq(c, "set", query(xml("password", {}, "whatever-Pass-1")), "localhost");
      assert.equal(errorCondition(noUser), "bad-request");
      assert.equal(noUser.getChild("query"), undefined, "the request is not echoed (§3.3)");
      const empty = await iq(
        c,
        "set",
        query(xml("username", {}, "keeper"), xml("password")),
        "localhost",
      );
      assert.equal(errorCondition(empty), "bad-request");
      await c.stop();
      await (await login(t, "keeper", STRONG)).stop(); // the old password stays
    });

    it("answers forbidden to a change of another user's password", async () => {
      await t.register("victim", STRONG);
      const c = await t.client("attacker", { password: STRONG });
      const res = await iq(
        c,
        "set",
        query(xml("username", {}, "victim"), xml("password", {}, "pwned-Pass-123")),
        "localhost",
      );
      assert.equal(errorCondition(res), "forbidden");
      await c.stop();
      await (await login(t, "victim", STRONG)).stop();
    });

    it("answers not-acceptable to a weak new password", async () => {
      const c = await t.client("weakchange", { password: STRONG });
      const res = await iq(
        c,
        "set",
        query(xml("username", {}, "weakchange"), xml("password", {}, "abc")),
        "localhost",
      );
      assert.equal(errorCondition(res), "not-acceptable");
      await c.stop();
    });

    it("removes the account: result, then not-authorized on every session (XEP-0077 §3.2)", async () => {
      await t.register("leaver", STRONG);
      const other = await login(t, "leaver", STRONG);
      const otherClosed = new Promise<string>((resolve) =>
        other.xmpp.on("error", (e: { condition?: string }) => resolve(e.condition ?? String(e))),
      );
      const raw = await RawClient.connect(t.port);
      await raw.login("leaver", STRONG);
      raw.send(`<iq type='set' id='bye'><query xmlns='${NS}'><remove/></query></iq>`);
      const text = await raw.readUntil("</stream:stream>");
      const result = text.search(
        /<iq[^>]*id="bye"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="bye"/,
      );
      const streamError = text.indexOf("<not-authorized");
      assert.ok(result >= 0, text);
      assert.ok(streamError > result, "the result comes before the stream error");
      assert.equal(await otherClosed, "not-authorized");
      assert.equal(await t.server.ctx.accounts.exists("leaver", "localhost"), false);
      await assert.rejects(login(t, "leaver", STRONG));
    });

    it("answers bad-request when <remove/> is not alone (XEP-0077 §3.2)", async () => {
      const c = await t.client("stayer", { password: STRONG });
      const res = await iq(
        c,
        "set",
        query(xml("remove"), xml("username", {}, "stayer")),
        "localhost",
      );
      assert.equal(errorCondition(res), "bad-request");
      await c.stop();
      assert.ok(await t.server.ctx.accounts.exists("stayer", "localhost"));
    });

    it("advertises jabber:iq:register in disco#info (XEP-0077 §10)", async () => {
      const c = await t.client("disco", { password: STRONG });
      const res = await iq(
        c,
        "get",
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
        "localhost",
      );
      const features = res
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var);
      assert.ok(features?.includes(NS), String(features));
      await c.stop();
    });
  });

  describe("with access: none and access_remove: none", () => {
    before(async () => {
      await reconfigure({
        ...modules,
        mod_register: { access: "none", access_remove: "none", registration_timeout: 0 },
      });
    });
    after(async () => void (await reconfigure(modules)));

    it("offers no stream feature and answers service-unavailable (XEP-0077 §3.1, §8)", async () => {
      const { raw, features } = await secureStream(t);
      assert.ok(!features.includes(FEATURE), features);
      assert.equal(
        outcome(await rawIq(raw, "get", `<query xmlns='${NS}'/>`)),
        "service-unavailable",
      );
      const set = await rawIq(raw, "set", registerBody("closed", STRONG));
      assert.equal(outcome(set), "service-unavailable");
      raw.end();
      assert.equal(await t.server.ctx.accounts.exists("closed", "localhost"), false);
    });

    it("answers not-allowed to <remove/> (XEP-0077 §3.2)", async () => {
      const c = await t.client("cannotleave", { password: STRONG });
      const res = await iq(c, "set", query(xml("remove")), "localhost");
      assert.equal(errorCondition(res), "not-allowed");
      await c.stop();
      assert.ok(await t.server.ctx.accounts.exists("cannotleave", "localhost"));
    });
  });

  describe("with registration_timeout", () => {
    before(async () => {
      await reconfigure({ ...modules, mod_register: { access: "all", registration_timeout: 600 } });
    });
    after(async () => void (await reconfigure(modules)));

    it("lets one IP address register once per timeout, then resource-constraint", async () => {
      assert.equal(await registerRaw(t, "quick1"), "result");
      const { raw } = await secureStream(t);
      const res = await rawIq(raw, "set", registerBody("quick2", STRONG));
      assert.equal(outcome(res), "resource-constraint");
      assert.match(res, /<error[^>]*type="wait"/);
      raw.end();
      assert.equal(await t.server.ctx.accounts.exists("quick2", "localhost"), false);
    });

    it("does not count a failed attempt", async () => {
      await reconfigure({ ...modules, mod_register: { access: "all", registration_timeout: 601 } });
      assert.equal(await registerRaw(t, "quick1"), "conflict");
      assert.equal(await registerRaw(t, "quick3"), "result");
    });
  });

  describe("with ejabberd access rules: access by username, ip_access by address, access_remove", () => {
    let ruled: TestServer;
    before(async () => {
      ruled = await startTestServer({
        modules: {
          mod_register: {
            access: "register",
            ip_access: "trusted_network",
            access_remove: "may_leave",
            registration_timeout: 0,
          },
        },
        config: (c) => {
          c.access = accessFrom(
            [
              "acl:",
              "  reserved:",
              "    user_glob: 'admin*'",
              "  loopback:",
              "    ip: 127.0.0.0/8",
              "  leavers:",
              "    user_regexp: '^temp'",
              "access_rules:",
              "  register:",
              "    - deny: reserved",
              "    - allow: all",
              "  trusted_network:",
              "    allow: loopback",
              "  may_leave:",
              "    allow: leavers",
            ].join("\n"),
          );
        },
      });
    });
    after(async () => ruled?.stop());

    it("refuses a username the rule denies with forbidden, and registers others (XEP-0077 §3.1)", async () => {
      const { raw, features } = await secureStream(ruled);
      assert.ok(features.includes(FEATURE), "a rule other than none keeps the feature");
      raw.end();
      assert.equal(await registerRaw(ruled, "administrator"), "forbidden");
      assert.equal(await ruled.server.ctx.accounts.exists("administrator", "localhost"), false);
      assert.equal(await registerRaw(ruled, "carol"), "result");
    });

    it("lets only users the access_remove rule allows cancel their account (XEP-0077 §3.2)", async () => {
      assert.equal(await registerRaw(ruled, "tempuser"), "result");
      assert.equal(await registerRaw(ruled, "steady"), "result");
      const steady = await login(ruled, "steady", STRONG);
      assert.equal(errorCondition(await iq(steady, "set", query(xml("remove")))), "forbidden");
      await steady.stop();
      const temp = await login(ruled, "tempuser", STRONG);
      const res = await iq(temp, "set", query(xml("remove")));
      assert.equal(res.attrs.type, "result");
    });

    it("refuses every username from an address ip_access does not allow", async () => {
      const far = await startTestServer({
        modules: { mod_register: { access: "all", ip_access: "office", registration_timeout: 0 } },
        config: (c) => {
          c.access = accessFrom(
            "acl:\n  office:\n    ip: 192.0.2.0/24\naccess_rules:\n  office:\n    allow: office\n",
          );
        },
      });
      try {
        assert.equal(await registerRaw(far, "dave"), "forbidden");
      } finally {
        await far.stop();
      }
    });

    it("refuses at load an access option naming no rule, with the rules there are", async () => {
      await assert.rejects(
        startTestServer({ modules: { mod_register: { access: "registr" } } }),
        /modules\.mod_register\.access.*no access rule named 'registr'; valid: all, none, local/s,
      );
    });
  });
});
