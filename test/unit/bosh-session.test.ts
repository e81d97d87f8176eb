import { strict as assert } from "node:assert";
import { parse } from "ltx";
import { fakeManager, tick, type FakeLimits, type FakeReply } from "../helpers/bosh-fakes.js";

// The BOSH connection manager's state machine (XEP-0124, XEP-0206), driven with fake HTTP
// requests and a fake clock.

const HB = "http://jabber.org/protocol/httpbind";
const RID = 1000;

function creation(extra = ""): string {
  return (
    `<body rid='${RID}' to='localhost' xml:lang='en' ver='1.11' wait='60' hold='1' ` +
    `xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh' xmlns='${HB}' ${extra}/>`
  );
}

function attrsOf(r: FakeReply): Record<string, string> {
  assert.ok(r.body !== null, "the request was answered");
  return parse(r.body).attrs as Record<string, string>;
}

/** A session created and its creation request answered. */
async function session(limits: FakeLimits = {}) {
  const f = fakeManager(limits);
  const first = f.post(creation());
  await tick();
  const sid = attrsOf(first).sid!;
  const req = (rid: number, inner = "", attrs = ""): FakeReply =>
    f.post(`<body rid='${rid}' sid='${sid}' xmlns='${HB}' ${attrs}>${inner}</body>`);
  return { ...f, first, sid, req, owner: f.owners[0]! };
}

describe("BOSH connection manager (XEP-0124, XEP-0206)", () => {
  it("answers the session creation request with the session's parameters and the stream features (XEP-0124 §7.2, XEP-0206 §6)", async () => {
    const f = fakeManager({ maxWait: 30, inactivity: 40, maxPause: 90, polling: 3 });
    const r = f.post(creation("content='text/xml; charset=utf-8'"));
    await tick();
    const a = attrsOf(r);
    assert.equal(r.status, 200);
    assert.ok(a.sid && a.sid.length >= 32, "an unguessable sid");
    assert.equal(a.wait, "30", "wait is capped by ours");
    assert.equal(a.hold, "1");
    assert.equal(a.requests, "2", "requests is hold + 1");
    assert.equal(a.inactivity, "40");
    assert.equal(a.polling, "3");
    assert.equal(a.maxpause, "90");
    assert.equal(a.ver, "1.11");
    assert.equal(a.from, "localhost");
    assert.equal(a["xmpp:version"], "1.0");
    assert.equal(a["xmpp:restartlogic"], "true");
    assert.equal(a["xmlns:xmpp"], "urn:xmpp:xbosh");
    assert.ok(parse(r.body!).getChild("features"), "the stream features come in the answer");
    assert.deepEqual(f.owners[0]!.starts[0], { to: "localhost", version: "1.0", "xml:lang": "en" });
  });

  it("refuses a creation request without 'to' (improper-addressing), for an unknown domain (host-unknown) or without a rid (bad-request) (§17.2)", () => {
    const f = fakeManager();
    const noTo = f.post(`<body rid='1' ver='1.11' wait='60' hold='1' xmlns='${HB}'/>`);
    assert.equal(attrsOf(noTo).condition, "improper-addressing");
    const unknown = f.post(
      `<body rid='1' to='else.example' ver='1.11' wait='60' hold='1' xmlns='${HB}'/>`,
    );
    assert.equal(attrsOf(unknown).condition, "host-unknown");
    const noRid = f.post(`<body to='localhost' ver='1.11' wait='60' hold='1' xmlns='${HB}'/>`);
    assert.equal(attrsOf(noRid).type, "terminate");
    assert.equal(attrsOf(noRid).condition, "bad-request");
    assert.equal(noRid.status, 200);
    // §17.1: a legacy client (no 'ver') gets the HTTP code instead.
    const legacy = f.post(`<body to='localhost' wait='60' hold='1' xmlns='${HB}'/>`);
    assert.equal(legacy.status, 400);
    assert.equal(f.manager.size, 0);
  });

  it("answers an unknown sid with item-not-found and a body that is not XML with bad-request (§17.2)", () => {
    const f = fakeManager();
    assert.equal(
      attrsOf(f.post(`<body rid='5' sid='nope' xmlns='${HB}'/>`)).condition,
      "item-not-found",
    );
    const junk = f.post("this is not XML");
    assert.equal(junk.status, 400);
    assert.equal(attrsOf(junk).condition, "bad-request");
    const wrongRoot = f.post(`<stream xmlns='${HB}'/>`);
    assert.equal(attrsOf(wrongRoot).condition, "bad-request");
  });

  it("holds a request until there is data, and answers it empty when wait expires (§8)", async () => {
    const s = await session();
    const held = s.req(RID + 1);
    await tick();
    assert.equal(held.answered, false, "nothing to send: the request is held");
    s.clock.advance(59_000);
    assert.equal(held.answered, false);
    s.clock.advance(1_000);
    assert.equal(held.body, `<body xmlns='${HB}'/>`);
    const next = s.req(RID + 2);
    s.owner.transport.write("<message id='m1'/>");
    await tick();
    const msg = parse(next.body!).getChild("message")!;
    assert.equal(msg.attrs.id, "m1");
    assert.equal(
      msg.attrs.xmlns,
      "jabber:client",
      "stanzas are put in jabber:client (XEP-0206 §4)",
    );
  });

  it("answers the oldest held request when a new one would hold more than 'hold' (§8)", async () => {
    const s = await session();
    const a = s.req(RID + 1);
    const b = s.req(RID + 2, "<message echo='e1'/>");
    await tick();
    assert.ok(a.answered, "the older request goes back at once");
    assert.equal(parse(a.body!).getChild("message")!.attrs.id, "e1");
    assert.equal(b.answered, false, "the newer one is held");
  });

  it("forwards the payloads of out-of-order requests in rid order (§14.2)", async () => {
    const s = await session();
    const r2 = s.req(RID + 2, "<message id='two'/>");
    assert.equal(s.owner.elements.length, 0, "rid+2 waits for rid+1");
    const r1 = s.req(RID + 1, "<message id='one'/>");
    assert.deepEqual(
      s.owner.elements.map((e) => e.attrs.id),
      ["one", "two"],
    );
    await tick();
    assert.ok(r1.answered, "rid+1 is answered first");
    assert.equal(r2.answered, false);
  });

  it("terminates with item-not-found for a rid beyond the window, and the XMPP side hears a lost link (§14.2)", async () => {
    const s = await session();
    const held = s.req(RID + 1);
    const far = s.req(RID + 50);
    assert.equal(attrsOf(far).type, "terminate");
    assert.equal(attrsOf(far).condition, "item-not-found");
    assert.equal(attrsOf(held).condition, "item-not-found");
    assert.equal(s.manager.size, 0);
    await tick();
    assert.deepEqual(s.owner.disconnects, ["BOSH item-not-found"]);
    assert.equal(attrsOf(s.req(RID + 2)).condition, "item-not-found", "the session is gone");
  });

  it("answers a repeated rid with the answer it had, or a recoverable error to the older copy if it is still held, or item-not-found if no longer kept (§14.3)", async () => {
    const s = await session();
    const r1 = s.req(RID + 1, "<message echo='x'/>");
    await tick();
    const again = s.req(RID + 1, "<message echo='x'/>");
    assert.equal(again.body, r1.body, "the same answer again");
    assert.equal(s.owner.elements.length, 1, "and the payload is not forwarded twice");
    const held = s.req(RID + 2);
    const copy = s.req(RID + 2);
    assert.equal(attrsOf(held).type, "error", "the older copy gets a recoverable error");
    assert.equal(copy.answered, false, "the newer copy is held in its place");
    s.req(RID + 3, "<message echo='y'/>");
    s.req(RID + 4, "<message echo='z'/>");
    await tick();
    const old = s.req(RID);
    assert.equal(
      attrsOf(old).condition,
      "item-not-found",
      "answers beyond the window are not kept",
    );
  });

  it("terminates with policy-violation a client making more simultaneous requests than 'requests', and closes the XMPP stream (§11)", async () => {
    const s = await session();
    const held = s.req(RID + 1);
    s.req(RID + 3, "<message/>");
    const flood = s.req(RID + 2, "<message/>");
    assert.equal(attrsOf(held).condition, "policy-violation");
    assert.equal(attrsOf(flood).condition, "policy-violation");
    assert.equal(s.owner.errors[0]?.condition, "policy-violation");
    assert.equal(s.manager.size, 0);
  });

  it("ends a session whose client makes no request within 'inactivity' like a dropped link (§10)", async () => {
    const s = await session({ inactivity: 30 });
    s.clock.advance(29_000);
    await tick();
    assert.equal(s.manager.size, 1);
    assert.deepEqual(s.owner.disconnects, []);
    s.clock.advance(1_000);
    await tick();
    assert.equal(s.manager.size, 0);
    assert.deepEqual(s.owner.disconnects, ["BOSH inactivity"]);
    assert.equal(s.clock.pending, 0, "no timer is left behind");
  });

  it("terminates with policy-violation a client sending empty requests while its others are held, faster than 'polling' (§11)", async () => {
    const s = await session({ polling: 2 });
    s.clock.advance(3_000);
    s.req(RID + 1);
    const second = s.req(RID + 2);
    assert.equal(attrsOf(second).condition, "policy-violation");
  });

  it("does not count an empty request overtaken by the next one's payload as too frequent (§11, §14.2)", async () => {
    const s = await session({ polling: 2 });
    s.clock.advance(3_000);
    // The client sent an empty request, then a stanza; the stanza's connection was faster.
    const stanza = s.req(RID + 2, "<message id='m1' xmlns='jabber:client'/>");
    const empty = s.req(RID + 1);
    await tick();
    assert.equal(s.manager.size, 1, "the session goes on");
    assert.equal(attrsOf(empty).type, undefined, "the empty request is answered, not terminated");
    assert.equal(stanza.answered, false, "the later request is held");
    assert.deepEqual(
      s.owner.elements.map((e) => e.attrs.id),
      ["m1"],
    );
  });

  it("keeps one clock timer for all its sessions, whatever they hold", async () => {
    const s = await session();
    assert.equal(s.clock.pending, 1);
    s.req(RID + 1);
    assert.equal(s.clock.pending, 1);
    s.req(RID + 2, "<message echo='e'/>");
    s.post(creation());
    await tick();
    assert.equal(s.manager.size, 2);
    assert.equal(s.clock.pending, 1);
  });

  it("answers each session's held request when its wait is over, and ends each session left without a request at its inactivity period, on that one timer (§8, §10)", async () => {
    const f = fakeManager({ inactivity: 30 });
    const open = async (wait: number) => {
      const first = f.post(creation().replace("wait='60'", `wait='${wait}'`));
      await tick();
      const sid = attrsOf(first).sid!;
      return (rid: number) => f.post(`<body rid='${rid}' sid='${sid}' xmlns='${HB}'/>`);
    };
    const a = await open(20);
    const b = await open(60);
    await open(60); // makes no request
    f.clock.advance(5_000);
    const heldA = a(RID + 1);
    const heldB = b(RID + 1);
    f.clock.advance(19_999);
    assert.equal(heldA.answered, false, "within a's wait");
    f.clock.advance(1);
    assert.equal(heldA.body, `<body xmlns='${HB}'/>`, "a's wait is over: answered empty");
    assert.equal(heldB.answered, false);
    assert.equal(f.manager.size, 3);
    f.clock.advance(5_000);
    assert.equal(f.manager.size, 2, "the idle one made no request in 30 s");
    await tick();
    assert.deepEqual(
      f.owners.map((o) => o.disconnects),
      [[], [], ["BOSH inactivity"]],
    );
    a(RID + 2);
    f.clock.advance(34_999);
    assert.equal(heldB.answered, false, "within b's wait");
    f.clock.advance(1);
    assert.equal(heldB.body, `<body xmlns='${HB}'/>`);
    assert.equal(f.manager.size, 2, "a and b keep a request each");
    assert.equal(f.clock.pending, 1);
  });

  it("on a pause, answers every held request and waits up to the pause before ending the session (§10)", async () => {
    const s = await session({ inactivity: 30, maxPause: 120 });
    const held = s.req(RID + 1);
    const pause = s.req(RID + 2, "", "pause='100'");
    assert.ok(held.answered);
    assert.equal(pause.body, `<body xmlns='${HB}'/>`);
    s.clock.advance(99_000);
    assert.equal(s.manager.size, 1);
    s.clock.advance(1_000);
    assert.equal(s.manager.size, 0);
  });

  it("forwards a terminate request's payloads, ends the stream and answers with type='terminate' (§13)", async () => {
    const s = await session();
    const r = s.req(RID + 1, "<presence type='unavailable'/>", "type='terminate'");
    assert.equal(s.owner.elements[0]?.name, "presence");
    assert.equal(s.owner.ended, true);
    assert.equal(attrsOf(r).type, "terminate");
    assert.equal(attrsOf(r).condition, undefined);
    assert.equal(s.manager.size, 0);
  });

  it("sends a stream error as remote-stream-error with the <stream:error/> (XEP-0206 §8)", async () => {
    const s = await session({ maxStanzaSize: 10000 });
    const big = `<message><body>${"x".repeat(20000)}</body></message>`;
    const r = s.req(RID + 1, big);
    const body = parse(r.body!);
    assert.equal(body.attrs.condition, "remote-stream-error");
    assert.ok(
      body.getChild("error", "http://etherx.jabber.org/streams")?.getChild("policy-violation"),
    );
    assert.equal(s.owner.elements.length, 0, "nothing of the broken body was forwarded");
  });

  it("restarts the stream on xmpp:restart and ignores its payloads (XEP-0206 §6)", async () => {
    const s = await session();
    const r = s.req(
      RID + 1,
      "<message id='ignored'/>",
      "to='localhost' xml:lang='en' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'",
    );
    assert.equal(s.owner.starts.length, 2);
    assert.equal(s.owner.elements.length, 0);
    await tick();
    assert.ok(parse(r.body!).getChild("features"), "the new stream's features are the answer");
  });

  it("holds input back while the owner is paused, and keeps its order (RFC 6120 §10.1)", async () => {
    const s = await session();
    s.owner.transport.reads.pause();
    s.req(RID + 1, "<message id='a'/>");
    s.req(RID + 2, "", "xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'");
    assert.equal(s.owner.elements.length, 0);
    assert.equal(s.owner.starts.length, 1);
    s.owner.transport.reads.resume();
    assert.equal(s.owner.elements[0]?.attrs.id, "a");
    assert.equal(s.owner.starts.length, 2);
  });

  it("treats a held request whose client went away as answered empty; its data waits for the next request", async () => {
    const s = await session();
    const gone = s.req(RID + 1);
    gone.clientCloses();
    s.owner.transport.write("<message id='later'/>");
    await tick();
    const next = s.req(RID + 2);
    await tick();
    assert.equal(parse(next.body!).getChild("message")?.attrs.id, "later");
    assert.equal(
      s.req(RID + 1).body,
      `<body xmlns='${HB}'/>`,
      "asking again gets the empty answer",
    );
  });

  it("terminates a polling session polling faster than 'polling' (§12)", async () => {
    const f = fakeManager({ polling: 5 });
    const first = f.post(creation().replace("hold='1'", "hold='0'"));
    await tick();
    const sid = attrsOf(first).sid!;
    assert.equal(attrsOf(first).requests, "1");
    const poll = (rid: number): FakeReply =>
      f.post(`<body rid='${rid}' sid='${sid}' xmlns='${HB}'/>`);
    f.clock.advance(6_000);
    assert.equal(poll(RID + 1).body, `<body xmlns='${HB}'/>`);
    f.clock.advance(6_000);
    assert.equal(poll(RID + 2).body, `<body xmlns='${HB}'/>`, "polling at the interval is fine");
    f.clock.advance(1_000);
    assert.equal(attrsOf(poll(RID + 3)).condition, "policy-violation");
  });

  it("does not answer a secure session's request made in the clear, nor end the session (§19.1)", async () => {
    const f = fakeManager();
    const first = f.post(creation(), true);
    await tick();
    const sid = attrsOf(first).sid!;
    const clear = f.post(`<body rid='${RID + 1}' sid='${sid}' xmlns='${HB}'/>`, false);
    assert.equal(clear.aborted, true);
    assert.equal(f.manager.size, 1);
  });

  it("carries at most max_concat payloads in one answer; the rest go with the next request", async () => {
    const s = await session({ maxConcat: 2 });
    const held = s.req(RID + 1);
    for (const id of ["m1", "m2", "m3"]) s.owner.transport.write(`<message id='${id}'/>`);
    await tick();
    const ids = (r: FakeReply): string[] =>
      parse(r.body!)
        .getChildElements()
        .map((e) => e.attrs.id as string);
    assert.deepEqual(ids(held), ["m1", "m2"]);
    const next = s.req(RID + 2);
    await tick();
    assert.deepEqual(ids(next), ["m3"]);
  });

  it("ends every session with system-shutdown when its manager closes (the module stops)", async () => {
    const s = await session();
    const held = s.req(RID + 1);
    s.manager.closeAll("mod_bosh stopped");
    assert.equal(attrsOf(held).condition, "system-shutdown");
    assert.equal(s.owner.errors[0]?.condition, "system-shutdown");
    assert.equal(s.manager.size, 0);
  });
});
