// XEP-0386 §Performing the bind: the server SHOULD put XEP-0313's archive <metadata/> (§5) into
// the <bound/> of a Bind2 login, and parts that modules add there (ctx.bind2Bound) never fail a
// login. Scripted SASL2 streams, as in bind2.test.ts.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { until } from "../helpers/interop-launcher.js";
import type { RawClient } from "../helpers/raw.js";
import { TlsClients, childText, sasl2Plain } from "../helpers/sasl2.js";

const BIND2 = "urn:xmpp:bind:0";
const MAM = "urn:xmpp:mam:2";
const SM = "urn:xmpp:sm:3";
/** Where the test leaves the promise gina's <bound/> part waits for. */
const GATE = "parleyTestBoundGate";

/**
 * A module with a <bound/> part that fails: for frank it throws, for everyone else its promise
 * rejects; for gina it waits for the test's gate first. Loaded from a path, as a third-party
 * module is.
 */
const FAULTY_PLUGIN = `
export default {
  name: "mod_test_bound",
  description: "test: a Bind2 <bound/> part that fails",
  options: {},
  start(ctx) {
    ctx.bind2Bound({
      async bound(account) {
        if (account.local === "frank") throw new Error("bound part threw");
        if (account.local === "gina") {
          ctx.log.info("gina's bound part waits");
          await globalThis.${GATE};
        }
        throw new Error("bound part rejected");
      },
    });
  },
};
`;

/** The <metadata/> of an answer, or undefined. */
function metadataOf(answer: string): string | undefined {
  return new RegExp(`<metadata xmlns=['"]${MAM}['"](?:/>|>.*?</metadata>)`).exec(answer)?.[0];
}

/** The id and timestamp of a <start/> or <end/> in a <metadata/>. */
function edge(metadata: string, name: "start" | "end"): { id: string; timestamp: string } {
  const el = new RegExp(`<${name} ([^>]*)/>`).exec(metadata)?.[1] ?? "";
  const attr = (a: string) => new RegExp(`${a}=['"]([^'"]*)['"]`).exec(el)?.[1] ?? "";
  return { id: attr("id"), timestamp: attr("timestamp") };
}

describe("Bind2 (XEP-0386) with mod_mam: the archive's <metadata/> in <bound/> (XEP-0313 §5)", () => {
  let t: TestServer;
  let dir: string;
  const clients = new TlsClients(() => t.port);

  /** A Bind2 login over SASL2 PLAIN; resolves with <success/> and the features after it. */
  async function login(user: string, inline = ""): Promise<{ raw: RawClient; answer: string }> {
    const raw = await clients.connect();
    sasl2Plain(raw, user, `pw-${user}`, `<bind xmlns='${BIND2}'><tag>Phone</tag>${inline}</bind>`);
    return { raw, answer: await raw.readUntil(/<\/stream:features>|<\/failure>/) };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-bind2-mam-"));
    writeFileSync(join(dir, "mod_test_bound.mjs"), FAULTY_PLUGIN);
    t = await startTestServer({
      modules: {
        mod_stream_mgmt: {},
        mod_offline: {},
        mod_mam: {},
        mod_test_bound: { path: join(dir, "mod_test_bound.mjs") },
      },
      config: (c) => {
        for (const l of c.listen) l.starttlsRequired = false;
      },
    });
    for (const u of ["alice", "bob", "carol", "frank", "gina"]) await t.register(u, `pw-${u}`);
  });
  afterEach(() => clients.endAll());
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives an empty <metadata/> for an empty archive (XEP-0313 §5: no <start/> or <end/>)", async () => {
    const { answer } = await login("carol");
    assert.match(
      answer,
      new RegExp(
        `<bound xmlns=['"]${BIND2}['"]><metadata xmlns=['"]${MAM}['"]/></bound></success>`,
      ),
    );
  });

  it("gives the first and last archived message, their stanza-ids and times, and the same as the <metadata/> IQ (§Performing the bind)", async () => {
    const bob = await login("bob");
    for (const body of ["one", "two", "three"]) {
      bob.raw.send(
        `<message to='alice@localhost' type='chat' id='${body}'><body>${body}</body></message>`,
      );
    }
    const archive = t.server.ctx.stores.archive;
    await until(async () => (await archive.count("alice@localhost")) === 3, "alice has all 3");
    const first = await archive.query("alice@localhost", { max: 1 });
    const last = await archive.query("alice@localhost", { max: 1, before: "" });
    assert.ok("items" in first && "items" in last);

    const { raw, answer } = await login("alice", `<enable xmlns='${SM}'/>`);
    const metadata = metadataOf(answer);
    assert.ok(metadata, answer);
    // Inside <bound/>, next to what the client enabled.
    assert.match(answer, /<bound [^>]*><metadata .*<\/metadata><enabled [^>]*\/><\/bound>/);
    const start = edge(metadata, "start");
    const end = edge(metadata, "end");
    assert.equal(start.id, first.items[0]!.id);
    assert.equal(end.id, last.items[0]!.id);
    assert.notEqual(start.id, end.id);
    // XEP-0082 date-times, the times the server archived them.
    assert.equal(Date.parse(start.timestamp), first.items[0]!.ts);
    assert.equal(Date.parse(end.timestamp), last.items[0]!.ts);
    assert.match(end.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // The session is bound: it asks the same with the IQ (XEP-0313 §5) and gets the same.
    raw.send(`<iq type='get' id='md1'><metadata xmlns='${MAM}'/></iq>`);
    const result = await raw.readUntil("</iq>");
    assert.match(result, /type=['"]result['"]/);
    assert.equal(metadataOf(result), metadata);
  });

  it("logs in when a module's <bound/> part throws or rejects: logged with the module, left out, mod_mam's still there", async () => {
    for (const user of ["frank", "alice"]) {
      const { raw, answer } = await login(user);
      assert.match(childText(answer, "authorization-identifier") ?? "", /\/Phone\//);
      assert.match(answer, /<bound [^>]*><metadata [^>]*(\/>|>.*<\/metadata>)<\/bound>/);
      assert.match(answer, /<\/success><stream:features>/);
      // The session works.
      raw.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assert.match(await raw.readUntil("</iq>"), /id=['"]p1['"]/);
    }
    for (const message of ["bound part threw", "bound part rejected"]) {
      const line = t.logs.find(
        (l) =>
          l.msg === "module handler failed" && (l.err as { message?: string })?.message === message,
      );
      assert.ok(line, `${message}: logged`);
      assert.equal(line.module, "mod_test_bound");
    }
  });

  it("binds nothing when the client goes away while a <bound/> part waits", async () => {
    let open!: () => void;
    const g = globalThis as Record<string, unknown>;
    g[GATE] = new Promise<void>((resolve) => (open = resolve));
    try {
      const raw = await clients.connect();
      sasl2Plain(raw, "gina", "pw-gina", `<bind xmlns='${BIND2}'><tag>Phone</tag></bind>`);
      await until(() => t.logs.some((l) => l.msg === "gina's bound part waits"), "the part waits");
      // The stream's id is the session's in the logs.
      const sid = /<stream:stream [^>]*id=['"]([^'"]+)['"]/.exec(raw.consumed)![1];
      raw.end();
      await until(
        () => t.logs.some((l) => l.msg === "session closed" && l.sid === sid),
        "the session is closed",
      );
      open();
      await until(
        () => t.logs.some((l) => l.msg === "connection gone before <success/>"),
        "the login gave up",
      );
      assert.equal(t.server.ctx.sm.resourceCount("gina@localhost"), 0);
    } finally {
      open();
      delete g[GATE];
    }
  });

  it("adds nothing to a resumed session's <success/> (no bind, XEP-0386 §Performing the bind)", async () => {
    const first = await login("bob", `<enable xmlns='${SM}' resume='true'/>`);
    const previd = /<enabled [^>]*id=['"]([^'"]+)['"]/.exec(first.answer)![1]!;
    const jid = childText(first.answer, "authorization-identifier");
    first.raw.end();
    await until(
      () =>
        t.logs.some(
          (l) => l.msg === "connection lost; session kept for resumption" && l.jid === jid,
        ),
      "bob's session waits for resumption",
    );
    const raw = await clients.connect();
    sasl2Plain(
      raw,
      "bob",
      "pw-bob",
      `<resume xmlns='${SM}' previd='${previd}' h='0'/><bind xmlns='${BIND2}'><tag>Phone</tag></bind>`,
    );
    const answer = await raw.readUntil("</success>");
    assert.match(answer, /<resumed /);
    assert.doesNotMatch(answer, /<metadata|<bound/);
  });
});
