import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { RawClient } from "../helpers/raw.js";
import {
  AGENT_ID,
  SASL,
  SASL2,
  TlsClients,
  childText,
  sasl2Plain,
  userAgent,
} from "../helpers/sasl2.js";

const BIND2 = "urn:xmpp:bind:0";
const SM = "urn:xmpp:sm:3";
const CARBONS = "urn:xmpp:carbons:2";
const CSI = "urn:xmpp:csi:0";
const OTHER_AGENT = "0f4a7d3c-2b7e-4c1a-9a53-6b2e0d1c8f90";

/** The <bind/> request of XEP-0386 §Performing the bind. */
function bind(tag: string | null, ...features: string[]): string {
  return `<bind xmlns='${BIND2}'>${tag === null ? "" : `<tag>${tag}</tag>`}${features.join("")}</bind>`;
}

describe("Bind2 (XEP-0386) inside SASL2, with inline features", () => {
  let t: TestServer;
  const clients = new TlsClients(() => t.port);
  const tlsClient = () => clients.connect();

  /** SASL2 PLAIN with `inline` in <authenticate/>; resolves with <success/> and what follows. */
  async function bound(
    user: string,
    inline: string,
    opts: { agent?: string; until?: RegExp | string } = {},
  ): Promise<{ raw: RawClient; answer: string; jid: string }> {
    const raw = await tlsClient();
    sasl2Plain(raw, user, `pw-${user}`, inline, opts.agent);
    const answer = await raw.readUntil(opts.until ?? /<\/stream:features>|<\/failure>/);
    return { raw, answer, jid: childText(answer, "authorization-identifier") ?? "" };
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_stream_mgmt: {},
        mod_carbons: {},
        mod_client_state: {},
        mod_roster: {},
        mod_offline: {},
      },
      config: (c) => {
        for (const l of c.listen) l.starttlsRequired = false;
        c.maxUserSessions = 4;
      },
    });
    for (const u of ["alice", "bob", "carol", "dave", "erin"]) await t.register(u, `pw-${u}`);
  });
  afterEach(() => clients.endAll());
  after(async () => t.stop());

  it("offers Bind2 in SASL2's <inline/> with XEP-0198, carbons and CSI as its inline features, and XEP-0198 resumption (§Discovering support)", async () => {
    const { features } = await clients.connectWithFeatures();
    const inline =
      /<authentication xmlns=['"]urn:xmpp:sasl:2['"]>.*?<inline>(.*)<\/inline><\/authentication>/s.exec(
        features,
      )?.[1];
    assert.ok(inline, features);
    assert.match(inline, new RegExp(`<sm xmlns=['"]${SM}['"]/>`));
    const bindInline = new RegExp(
      `<bind xmlns=['"]${BIND2}['"]><inline>(.*?)</inline></bind>`,
    ).exec(inline)?.[1];
    assert.ok(bindInline, inline);
    const vars = [...bindInline.matchAll(/<feature var=['"]([^'"]+)['"]\/>/g)].map((m) => m[1]);
    assert.deepEqual(vars.sort(), [CARBONS, CSI, SM].sort());
  });

  it("binds tag/generated as the resource, answers the full JID and <bound/> in <success/>, then features without RFC 6120 bind (§Performing the bind)", async () => {
    const { raw, answer, jid } = await bound("alice", bind("AwesomeXMPP"));
    assert.match(jid, /^alice@localhost\/AwesomeXMPP\/[A-Za-z0-9_-]{12}$/);
    assert.match(answer, new RegExp(`<bound xmlns=['"]${BIND2}['"]/></success><stream:features>`));
    assert.doesNotMatch(answer, /urn:ietf:params:xml:ns:xmpp-bind/);
    // Without mod_mam, no archive <metadata/> (bind2-mam.test.ts has it with).
    assert.doesNotMatch(answer, /urn:xmpp:mam:2/);
    // The resource is never the user agent's id (§Resource identifier generation).
    assert.ok(!jid.includes(AGENT_ID));
    // The session is in the session manager: a message to its full JID reaches it.
    raw.send(`<message to='${jid}' id='m1'><body>to myself</body></message>`);
    const got = await raw.readUntil("</message>");
    assert.match(got, new RegExp(`from=['"]${jid.replace(/[/]/g, "\\/")}['"]`));
  });

  it("gives the same client installation the same resource, and a new login of it replaces the old session; another installation gets another (§Resource identifier generation)", async () => {
    const first = await bound("bob", bind("Phone"));
    const again = await bound("bob", bind("Phone"));
    assert.equal(again.jid, first.jid);
    assert.match(await first.raw.readUntil("</stream:stream>"), /<conflict /);
    const other = await bound("bob", bind("Phone"), { agent: userAgent(OTHER_AGENT) });
    assert.notEqual(other.jid, first.jid);
    const anonymous = await bound("bob", bind("Phone"), { agent: "" });
    assert.match(anonymous.jid, /^bob@localhost\/Phone\/.{12}$/);
    assert.notEqual(anonymous.jid, first.jid);
  });

  it("binds a generated resource without a tag", async () => {
    const { jid } = await bound("bob", bind(null), { agent: "" });
    assert.match(jid, /^bob@localhost\/[A-Za-z0-9_-]{12}$/);
  });

  it("fails a tag that cannot be part of a resource with malformed-request and binds nothing; the stream may try again (XEP-0388 §Failure)", async () => {
    for (const tag of ["", "bad\u0378tag", "x".repeat(101)]) {
      const { raw, answer } = await bound("carol", bind(tag));
      assert.match(
        answer,
        new RegExp(`<failure xmlns=['"]${SASL2}['"]><malformed-request xmlns=['"]${SASL}['"]/>`),
      );
      assert.match(childText(answer, "text")!, /Bind2 tag/);
      assert.equal(t.server.ctx.sm.resourceCount("carol@localhost"), 0);
      sasl2Plain(raw, "carol", "pw-carol", bind("Good"));
      assert.match(await raw.readUntil("</stream:features>"), /<bound /);
      raw.send("</stream:stream>");
      await raw.closedPromise;
      await waitFor(() => t.server.ctx.sm.resourceCount("carol@localhost") === 0);
    }
  });

  it("binds nothing when the authentication fails (XEP-0388 §Failure)", async () => {
    const raw = await tlsClient();
    sasl2Plain(raw, "dave", "wrong", bind("X", `<enable xmlns='${SM}'/>`));
    assert.match(await raw.readUntil("</failure>"), /<not-authorized /);
    assert.equal(t.server.ctx.sm.resourceCount("dave@localhost"), 0);
  });

  it("refuses a bind past max_user_sessions with temporary-auth-failure, before authenticating", async () => {
    const agents = [1, 2, 3, 4].map((i) => `00000000-0000-4000-8000-00000000000${i}`);
    for (const a of agents) await bound("erin", bind("M"), { agent: userAgent(a) });
    const { answer } = await bound("erin", bind("M"), {
      agent: userAgent("00000000-0000-4000-8000-000000000005"),
    });
    assert.match(answer, /<temporary-auth-failure /);
    assert.match(childText(answer, "text")!, /at most 4 sessions/);
  });

  it("enables XEP-0198 inline: <enabled/> inside <bound/>, and the counters run (XEP-0198 §Enable Stream Management Inline)", async () => {
    const { raw, answer } = await bound(
      "dave",
      bind("SM", `<enable xmlns='${SM}' resume='true'/>`),
    );
    const enabled = new RegExp(
      `<bound xmlns=['"]${BIND2}['"]><enabled xmlns=['"]${SM}['"] id=['"]([^'"]+)['"] resume=['"]true['"] max=['"]300['"]/></bound>`,
    ).exec(answer);
    assert.ok(enabled, answer);
    raw.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    raw.send(`<r xmlns='${SM}'/>`);
    assert.match(
      await raw.readUntil(/<a [^>]*\/>/),
      new RegExp(`<a xmlns=['"]${SM}['"] h=['"]1['"]/>`),
    );
  });

  it("enables carbons inline: the session gets <sent/> copies at once (XEP-0386 §Performing the bind, XEP-0280 §8)", async () => {
    const phone = await bound("alice", bind("Phone", `<enable xmlns='${CARBONS}'/>`));
    const laptop = await bound("alice", bind("Laptop"));
    laptop.raw.send(`<message to='bob@localhost' type='chat' id='c1'><body>hello</body></message>`);
    const copy = await phone.raw.readUntil("</message>");
    assert.match(copy, new RegExp(`<sent xmlns=['"]${CARBONS}['"]>`));
    assert.match(copy, /<body>hello<\/body>/);
  });

  it("starts the session inactive when <inactive/> is inline: a chat state waits, stamped, until a message with a body (XEP-0352 §4.2)", async () => {
    const phone = await bound("carol", bind("Phone", `<inactive xmlns='${CSI}'/>`), {
      agent: userAgent(OTHER_AGENT),
    });
    const bob = await bound("bob", bind("Desk"), { agent: userAgent(OTHER_AGENT) });
    bob.raw.send(
      `<message to='${phone.jid}' type='chat' id='s1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    );
    bob.raw.send(`<message to='${phone.jid}' type='chat' id='b1'><body>wake up</body></message>`);
    const got = await phone.raw.readUntil("wake up");
    assert.match(
      got,
      /<composing [^>]*\/><delay [^>]*>Client Inactive<\/delay><\/message>.*<body>wake up/s,
    );
  });

  it("delivers offline messages to a Bind2 session at its initial presence, as to a classic one", async () => {
    const bob = await bound("bob", bind("Desk"), { agent: "" });
    bob.raw.send(
      `<message to='dave@localhost' type='chat' id='o1'><body>while you were out</body></message>`,
    );
    // The message is stored once dave has no session left: wait for the store to have it.
    await waitFor(async () => (await t.server.ctx.stores.offline.count("localhost", "dave")) > 0);
    const { raw } = await bound("dave", bind("Desk"), { agent: "" });
    raw.send("<presence/>");
    assert.match(await raw.readUntil("while you were out"), /<body>while you were out/);
  });

  describe("XEP-0198 resumption inline in <authenticate/> (XEP-0198 §Inline Stream Resumption)", () => {
    it("resumes: <resumed/> inside <success/>, no stream features, the unacknowledged stanza again, and the bind request ignored", async () => {
      const first = await bound("alice", bind("R", `<enable xmlns='${SM}' resume='true'/>`), {
        agent: userAgent("11111111-1111-4111-8111-111111111111"),
      });
      const previd = /<enabled [^>]*id=['"]([^'"]+)['"]/.exec(first.answer)![1]!;
      const bob = await bound("bob", bind("Desk"), { agent: "" });
      bob.raw.send(`<message to='${first.jid}' type='chat' id='u1'><body>unacked</body></message>`);
      await first.raw.readUntil("unacked");
      first.raw.end();
      await waitFor(() =>
        t.logs.some(
          (l) => l.msg === "connection lost; session kept for resumption" && l.jid === first.jid,
        ),
      );

      const second = await bound(
        "alice",
        bind("R", `<enable xmlns='${SM}'/>`).replace(
          "<bind",
          `<resume xmlns='${SM}' previd='${previd}' h='0'/><bind`,
        ),
        {
          agent: userAgent("11111111-1111-4111-8111-111111111111"),
          until: "unacked",
        },
      );
      assert.match(
        second.answer,
        new RegExp(
          `<success xmlns=['"]${SASL2}['"]><authorization-identifier>alice@localhost</authorization-identifier><resumed xmlns=['"]${SM}['"] h=['"]0['"] previd=['"]${previd}['"]/></success>`,
        ),
      );
      assert.doesNotMatch(second.answer, /<bound|<stream:features/);
      assert.match(second.answer, /<\/success><message [^>]*id=['"]u1['"]/);
      // The old session goes on over the new connection.
      second.raw.send(`<message to='${first.jid}' id='m2'><body>still me</body></message>`);
      assert.match(
        await second.raw.readUntil("still me"),
        new RegExp(`to=['"]${first.jid.replace(/[/]/g, "\\/")}['"]`),
      );
    });

    it("fails an unknown id with <failed><item-not-found/></failed> in <success/>, then binds (XEP-0198 §Failed Resumption)", async () => {
      const { answer, jid } = await bound(
        "bob",
        `<resume xmlns='${SM}' previd='no-such-session' h='3'/>` +
          bind("After", `<enable xmlns='${SM}'/>`),
      );
      assert.match(jid, /^bob@localhost\/After\//);
      assert.match(
        answer,
        new RegExp(
          `<failed xmlns=['"]${SM}['"]><item-not-found xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/></failed><bound xmlns=['"]${BIND2}['"]><enabled xmlns=['"]${SM}['"]/></bound></success><stream:features>`,
        ),
      );
    });

    it("does not resume another user's session", async () => {
      const alice = await bound("alice", bind("S", `<enable xmlns='${SM}' resume='true'/>`), {
        agent: "",
      });
      const previd = /<enabled [^>]*id=['"]([^'"]+)['"]/.exec(alice.answer)![1]!;
      alice.raw.end();
      const { answer } = await bound("bob", `<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      assert.match(answer, /<failed xmlns=['"]urn:xmpp:sm:3['"]><item-not-found /);
      assert.doesNotMatch(answer, /<resumed/);
    });
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
