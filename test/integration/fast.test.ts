import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { RawClient } from "../helpers/raw.js";
import {
  AGENT_ID,
  FAST,
  SASL2,
  childText,
  htHash,
  sasl2Fast,
  sasl2Plain,
  tokenOf,
  userAgent,
  TlsClients,
} from "../helpers/sasl2.js";
import type { Json } from "../../src/storage/stores.js";

const OUTCOME = /<\/stream:features>|<\/failure>/;
const DAY = 86400_000;

function exporter(raw: RawClient): Buffer {
  return raw.tls!.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
}

function requestToken(mechanism: string): string {
  return `<request-token xmlns='${FAST}' mechanism='${mechanism}'/>`;
}

describe("FAST (XEP-0484) with the HT-SHA-256 mechanisms, inside SASL2", () => {
  let t: TestServer;
  const clients = new TlsClients(() => t.port);
  const tlsClient = () => clients.connect();

  /** Logs in with the password and asks for a token for `mechanism`; returns the token. */
  async function issue(user: string, mechanism = "HT-SHA-256-NONE", agent = userAgent()) {
    const raw = await tlsClient();
    sasl2Plain(raw, user, `pw-${user}`, requestToken(mechanism), agent);
    const answer = await raw.readUntil(OUTCOME);
    const token = tokenOf(answer);
    assert.ok(token, answer);
    raw.end();
    return token;
  }

  /** A token login; resolves with the server's answer. */
  async function withToken(
    user: string,
    mechanism: string,
    token: string,
    opts: Parameters<typeof sasl2Fast>[4] & { cbOf?: (raw: RawClient) => Buffer } = {},
  ): Promise<{ raw: RawClient; answer: string }> {
    const raw = await tlsClient();
    sasl2Fast(raw, mechanism, user, token, { ...opts, cb: opts.cbOf?.(raw) ?? opts.cb });
    return { raw, answer: await raw.readUntil(OUTCOME) };
  }

  /** The stored records of a user's tokens, as the map store has them. */
  async function stored(user: string): Promise<Map<string, Json>> {
    return t.server.ctx.stores.map("fast_tokens").all("localhost", user);
  }

  /** Changes one stored token of `user` (to make it old or expired without waiting). */
  async function age(user: string, slot: "current" | "next", fields: Record<string, number>) {
    const store = t.server.ctx.stores.map<Record<string, Record<string, Json>>>("fast_tokens");
    const [[key, record]] = [...(await store.all("localhost", user))];
    Object.assign(record![slot]!, fields);
    await store.set("localhost", user, key!, record!);
  }

  before(async () => {
    t = await startTestServer({
      modules: { mod_auth_fast: {}, mod_stream_mgmt: {} },
      config: (c) => {
        for (const l of c.listen) l.starttlsRequired = false;
      },
    });
    for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]) {
      await t.register(u, `pw-${u}`);
    }
  });
  afterEach(() => clients.endAll());
  after(async () => t.stop());

  it("offers <fast/> in SASL2's <inline/> with an HT mechanism per channel binding of the connection, none of them among the password mechanisms (§Server advertises support)", async () => {
    const { features } = await clients.connectWithFeatures();
    const fast = /<fast xmlns=['"]urn:xmpp:fast:0['"]>(.*?)<\/fast>/.exec(features)?.[1];
    assert.ok(fast, features);
    const mechs = [...fast.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
    // TLS 1.3 on loopback: tls-exporter, tls-server-end-point and tls-unique are all there.
    assert.deepEqual(mechs, [
      "HT-SHA-256-EXPR",
      "HT-SHA-256-ENDP",
      "HT-SHA-256-UNIQ",
      "HT-SHA-256-NONE",
    ]);
    assert.doesNotMatch(features.replace(/<fast .*?<\/fast>/, ""), /HT-SHA-256/);
    assert.doesNotMatch(features, /tls-0rtt/);
  });

  it("issues a token on <request-token/> after a password login, valid for token_lifetime (§Server provides token to client)", async () => {
    const token = await issue("alice");
    assert.ok(token.token.length >= 40);
    const expiry = Date.parse(token.expiry);
    assert.ok(
      expiry > Date.now() + 29 * DAY && expiry <= Date.now() + 30 * DAY + 1000,
      token.expiry,
    );
    assert.match(token.expiry, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("logs in with the token in one round trip: <success/> with the Responder hash, then binds (§Client authenticates using FAST)", async () => {
    const { token } = await issue("alice");
    const { answer } = await withToken("alice", "HT-SHA-256-NONE", token, {
      inline: `<bind xmlns='urn:xmpp:bind:0'><tag>Fast</tag></bind>`,
    });
    assert.match(answer, new RegExp(`<success xmlns=['"]${SASL2}['"]>`));
    const data = Buffer.from(childText(answer, "additional-data")!, "base64");
    assert.deepEqual(data, htHash(token, "Responder"));
    assert.match(childText(answer, "authorization-identifier")!, /^alice@localhost\/Fast\//);
    assert.equal(tokenOf(answer), undefined, "a fresh token is not rotated");
    const auth = t.logs.filter((l) => l.msg === "authenticated").at(-1);
    assert.equal(auth?.mechanism, "HT-SHA-256-NONE");
  });

  it("binds HT-SHA-256-EXPR to the connection's tls-exporter: another connection's binding fails (§Security)", async () => {
    const { token } = await issue("bob", "HT-SHA-256-EXPR");
    const ok = await withToken("bob", "HT-SHA-256-EXPR", token, { cbOf: exporter });
    const cb = exporter(ok.raw);
    assert.deepEqual(
      Buffer.from(childText(ok.answer, "additional-data")!, "base64"),
      htHash(token, "Responder", cb),
    );
    const stolen = await withToken("bob", "HT-SHA-256-EXPR", token, { cb });
    assert.match(stolen.answer, /<not-authorized /);
  });

  it("keeps a token to the mechanism it was issued for (§Client authenticates using FAST)", async () => {
    const { token } = await issue("bob", "HT-SHA-256-EXPR");
    const { answer } = await withToken("bob", "HT-SHA-256-NONE", token);
    assert.match(answer, /<not-authorized /);
  });

  it("fails a wrong token with not-authorized, and the password still works", async () => {
    await issue("carol");
    const { raw, answer } = await withToken("carol", "HT-SHA-256-NONE", "not-the-token");
    assert.match(answer, /<failure xmlns=['"]urn:xmpp:sasl:2['"]><not-authorized /);
    sasl2Plain(raw, "carol", "pw-carol");
    assert.match(await raw.readUntil(OUTCOME), /<success /);
  });

  it("fails an expired token with credentials-expired (§Server responsibilities)", async () => {
    const { token } = await issue("dave");
    await withToken("dave", "HT-SHA-256-NONE", token); // now the 'current' token
    await age("dave", "current", { expiry: Date.now() - 1000 });
    const { answer } = await withToken("dave", "HT-SHA-256-NONE", token);
    assert.match(answer, /<credentials-expired /);
    assert.match(childText(answer, "text")!, /expired/);
  });

  it("fails an HT mechanism it does not offer, or one without <fast/>, with invalid-mechanism", async () => {
    const { token } = await issue("erin");
    const unknown = await withToken("erin", "HT-SHA-512-NONE", token);
    assert.match(unknown.answer, /<invalid-mechanism /);
    const raw = await tlsClient();
    const first = Buffer.concat([Buffer.from("erin\0"), htHash(token, "Initiator")]);
    raw.send(
      `<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${first.toString("base64")}</initial-response>${userAgent()}</authenticate>`,
    );
    assert.match(await raw.readUntil(OUTCOME), /<invalid-mechanism /);
  });

  it("refuses a token request without a user-agent id (malformed-request) or for a mechanism it does not offer (invalid-mechanism) (§Business Rules)", async () => {
    const raw = await tlsClient();
    sasl2Plain(raw, "erin", "pw-erin", requestToken("HT-SHA-256-NONE"), "");
    const noAgent = await raw.readUntil(OUTCOME);
    assert.match(noAgent, /<malformed-request /);
    assert.match(childText(noAgent, "text")!, /user-agent/);
    sasl2Plain(raw, "erin", "pw-erin", requestToken("SCRAM-SHA-1"));
    assert.match(await raw.readUntil(OUTCOME), /<invalid-mechanism /);
  });

  it("rotates a token past token_refresh_age; the old one works until the new one is used, then not (§Server initiates token rotation)", async () => {
    const { token: old } = await issue("frank");
    await withToken("frank", "HT-SHA-256-NONE", old);
    await age("frank", "current", { issued: Date.now() - 2 * DAY });
    const rotated = await withToken("frank", "HT-SHA-256-NONE", old);
    const fresh = tokenOf(rotated.answer);
    assert.ok(fresh, rotated.answer);
    assert.notEqual(fresh.token, old);
    // The client may not have got it: the old token still logs in.
    assert.match((await withToken("frank", "HT-SHA-256-NONE", old)).answer, /<success /);
    assert.match((await withToken("frank", "HT-SHA-256-NONE", fresh.token)).answer, /<success /);
    assert.match((await withToken("frank", "HT-SHA-256-NONE", old)).answer, /<not-authorized /);
  });

  it("invalidates the token on <fast invalidate='true'/> and sends no new one (§Client requests token invalidation)", async () => {
    const { token } = await issue("gina");
    const { answer } = await withToken("gina", "HT-SHA-256-NONE", token, {
      fast: " invalidate='true'",
    });
    assert.match(answer, /<success /);
    assert.equal(tokenOf(answer), undefined);
    assert.match((await withToken("gina", "HT-SHA-256-NONE", token)).answer, /<not-authorized /);
  });

  it("refuses a count it has seen for the token (§Client authenticates using FAST)", async () => {
    const { token } = await issue("gina");
    assert.match(
      (await withToken("gina", "HT-SHA-256-NONE", token, { fast: " count='5'" })).answer,
      /<success /,
    );
    assert.match(
      (await withToken("gina", "HT-SHA-256-NONE", token, { fast: " count='5'" })).answer,
      /<not-authorized /,
    );
    assert.match(
      (await withToken("gina", "HT-SHA-256-NONE", token, { fast: " count='6'" })).answer,
      /<success /,
    );
  });

  it("answers temporary-auth-failure when the token store fails, and logs why (RFC 6120 §6.5.11)", async () => {
    const { token } = await issue("dave");
    const tokens = t.server.ctx.fast.tokens;
    const verify = tokens.verify.bind(tokens);
    tokens.verify = () => Promise.reject(new Error("disk on fire"));
    try {
      const { answer } = await withToken("dave", "HT-SHA-256-NONE", token);
      assert.match(answer, /<temporary-auth-failure /);
    } finally {
      tokens.verify = verify;
    }
    assert.ok(t.logs.some((l) => l.msg === "authentication backend failed"));
    assert.match((await withToken("dave", "HT-SHA-256-NONE", token)).answer, /<success /);
  });

  it("invalidates every token when the password changes", async () => {
    const { token } = await issue("carol");
    await t.server.ctx.accounts.changePassword("carol", "localhost", "new-carol");
    const { answer } = await withToken("carol", "HT-SHA-256-NONE", token);
    assert.match(answer, /<credentials-expired /);
    await t.server.ctx.accounts.changePassword("carol", "localhost", "pw-carol");
  });

  it("revokes a user's tokens with parleyctl revoke_fast_tokens USER HOST", async () => {
    const { token } = await issue("bob");
    const answer = await t.server.ctx.commands.run("revoke_fast_tokens", ["bob", "localhost"]);
    assert.equal(answer.ok, true);
    assert.match(
      String((answer as { result: unknown }).result),
      /^[1-9]\d* tokens? revoked for bob@localhost$/,
    );
    assert.match((await withToken("bob", "HT-SHA-256-NONE", token)).answer, /<not-authorized /);
    const unknown = await t.server.ctx.commands.run("revoke_fast_tokens", ["nobody", "localhost"]);
    assert.equal(unknown.ok, false);
  });

  it("stores neither the token nor the user-agent id, and one client's token is not another's", async () => {
    const other = "6a1c1c7e-8a36-4d8e-9a0e-4b1c2d3e4f50";
    const { token } = await issue("erin", "HT-SHA-256-NONE", userAgent(other));
    const text = JSON.stringify([...(await stored("erin"))]);
    assert.ok(!text.includes(token) && !text.includes(other) && !text.includes(AGENT_ID), text);
    const { answer } = await withToken("erin", "HT-SHA-256-NONE", token); // as AGENT_ID
    assert.match(answer, /<not-authorized /);
  });
});
