import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { LocalDelivery } from "../../src/delivery.js";
import { Hooks } from "../../src/hooks.js";
import { IqHandlers } from "../../src/iq.js";
import { IqRequests } from "../../src/iq-requests.js";
import { parseJID } from "../../src/jid.js";
import { createLogger } from "../../src/log.js";
import { Router } from "../../src/router.js";
import type { SessionHandle } from "../../src/session-handle.js";
import { SessionManager } from "../../src/sm.js";
import { StanzaError, isStanzaError } from "../../src/xmpp/errors.js";

type Answer = (iq: Element) => Element | null;

/** The routing core for example.org with the server's request table wired in, as server.ts does. */
function setup(limit?: number) {
  const router = new Router(new Set(["example.org"]), createLogger("silent"));
  const sm = new SessionManager();
  const requests = new IqRequests(limit);
  const accounts = { exists: () => true };
  router.attachLocal(
    new LocalDelivery(sm, accounts, new IqHandlers(), new Hooks(), router, requests),
  );

  /** A client that answers each stanza it gets with `answer`'s reply (routed from itself). */
  const client = (full: string, answer: Answer): void => {
    const jid = parseJID(full);
    const session: SessionHandle = {
      id: full,
      host: jid.domain,
      secure: true,
      live: true,
      remoteAddress: "127.0.0.1",
      jid,
      log: createLogger("silent"),
      available: true,
      priority: 0,
      presence: null,
      deliver: (stanza) => {
        const reply = answer(stanza);
        if (!reply) return;
        reply.attrs.from = full;
        void router.route(reply, jid, parseJID(String(reply.attrs.to)));
      },
      flushHeld: () => undefined,
      close: () => undefined,
    };
    sm.register(session);
  };

  /** What ctx.request does: register, then route. */
  const request = (to: string, opts: { id?: string; timeoutMs?: number } = {}) => {
    const from = parseJID("example.org");
    const waiting = requests.add({
      from,
      to: parseJID(to),
      id: opts.id,
      timeoutMs: opts.timeoutMs ?? 60_000,
      owner: "example.org/mod_test",
    });
    const iq = xml(
      "iq",
      { type: "get", id: waiting.id, from: "example.org", to },
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    void router.route(iq, from, parseJID(to));
    return { id: waiting.id, answer: waiting.answer };
  };
  return { router, requests, client, request };
}

const result = (iq: Element): Element =>
  xml("iq", { type: "result", id: iq.attrs.id, to: iq.attrs.from }, xml("query"));

async function rejection(p: Promise<unknown>): Promise<StanzaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isStanzaError(err), String(err));
    return err;
  }
  assert.fail("resolved, expected a StanzaError");
}

describe("the server's own IQ requests (ctx.request, RFC 6120 §8.2.3)", () => {
  it("resolves with the result the asked entity sends, and forgets the request", async () => {
    const { client, request, requests } = setup();
    client("alice@example.org/phone", result);
    const res = await request("alice@example.org/phone").answer;
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "alice@example.org/phone");
    assert.equal(requests.size, 0);
  });

  it("gives each request an id of its own, not a guessable counter", () => {
    const { request, client } = setup();
    client("alice@example.org/phone", () => null);
    const ids = new Set(Array.from({ length: 50 }, () => request("alice@example.org/phone").id));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.ok(id.length >= 16, id);
  });

  it("rejects with the error's defined condition, text and type (RFC 6120 §8.3)", async () => {
    const { client, request } = setup();
    client("alice@example.org/phone", (iq) =>
      xml(
        "iq",
        { type: "error", id: iq.attrs.id, to: iq.attrs.from },
        new StanzaError("forbidden", "not you", "auth").toElement(),
      ),
    );
    const err = await rejection(request("alice@example.org/phone").answer);
    assert.equal(err.condition, "forbidden");
    assert.equal(err.text, "not you");
    assert.equal(err.type, "auth");
  });

  it("rejects at once with the bounce when the resource is gone (RFC 6121 §8.5.3.2.3)", async () => {
    const { request, requests } = setup();
    const { answer } = request("alice@example.org/gone");
    assert.equal(requests.size, 0, "the bounce answered before route() returned");
    assert.equal((await rejection(answer)).condition, "service-unavailable");
  });

  it("ignores an answer with the right id from anyone but the asked entity (RFC 6120 §8.2.3)", async () => {
    const { client, request, router, requests } = setup();
    client("alice@example.org/phone", () => null);
    const { id, answer } = request("alice@example.org/phone");
    const resultFrom = (from: string): void => {
      const iq = xml("iq", { type: "result", id, from, to: "example.org" });
      void router.route(iq, parseJID(from), parseJID("example.org"));
    };
    resultFrom("mallory@example.org/x");
    assert.equal(requests.size, 1, "still waiting");
    resultFrom("alice@example.org/phone");
    assert.equal((await answer).attrs.from, "alice@example.org/phone");
  });

  it("rejects with remote-server-timeout when no answer comes, and forgets the request", async () => {
    const { client, request, requests } = setup();
    client("alice@example.org/phone", () => null);
    const err = await rejection(request("alice@example.org/phone", { timeoutMs: 20 }).answer);
    assert.equal(err.condition, "remote-server-timeout");
    assert.equal(requests.size, 0);
  });

  it("refuses a request beyond the limit with resource-constraint", async () => {
    const { client, request, requests } = setup(2);
    client("alice@example.org/phone", () => null);
    request("alice@example.org/phone");
    request("alice@example.org/phone");
    const err = await rejection(request("alice@example.org/phone").answer);
    assert.equal(err.condition, "resource-constraint");
    assert.equal(requests.size, 2);
  });

  it("refuses an id already waiting rather than mixing up two answers", async () => {
    const { client, request } = setup();
    client("alice@example.org/phone", () => null);
    request("alice@example.org/phone", { id: "same" });
    assert.equal(
      (await rejection(request("alice@example.org/phone", { id: "same" }).answer)).condition,
      "conflict",
    );
  });

  it("fails the requests of a module that stops, and only those", async () => {
    const { client, request, requests } = setup();
    client("alice@example.org/phone", () => null);
    const { answer } = request("alice@example.org/phone");
    requests.cancelOwner("example.org/mod_other", new StanzaError("service-unavailable"));
    assert.equal(requests.size, 1);
    requests.cancelOwner("example.org/mod_test", new StanzaError("service-unavailable"));
    assert.equal((await rejection(answer)).condition, "service-unavailable");
    assert.equal(requests.size, 0);
  });
});
