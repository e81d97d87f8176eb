import { strict as assert } from "node:assert";
import {
  authentications,
  startInteropServer,
  type InteropServer,
} from "../helpers/interop-server.js";
import { assertPythonModule, PythonClient, type PyEvent } from "../helpers/python-client.js";

/**
 * Gajim 1.7's login, replayed by test/interop/gajim_login.py with nbxmpp: every request Gajim
 * makes at login gets an answer, a result or the error the RFC/XEP names, never silence.
 */
describe("interop: Gajim's login sequence (nbxmpp)", function () {
  this.timeout(15000);
  let t: InteropServer;
  let steps: Map<string, PyEvent>;
  let run: PythonClient;

  before(async () => {
    assertPythonModule("nbxmpp", "python3-nbxmpp");
    t = await startInteropServer();
    await t.register("gajim", "gajim-secret");
    run = PythonClient.start(
      "gajim_login.py",
      [
        "--port",
        String(t.port),
        "--jid",
        "gajim@localhost/gajim.desk",
        "--password",
        "gajim-secret",
        "--cafile",
        t.cafile,
      ],
      "gajim-login",
    );
    await run.next("done", () => true, 12000);
    steps = new Map(run.events.filter((e) => e.event === "step").map((e) => [String(e.name), e]));
  });
  after(async () => {
    await run?.quit();
    await t?.stop();
  });

  const step = (name: string): PyEvent => {
    const s = steps.get(name);
    assert.ok(s, `Gajim's "${name}" request got no answer (steps: ${[...steps.keys()]})`);
    return s;
  };
  const data = (name: string) => step(name).data as Record<string, any>;

  it("authenticates with SCRAM-SHA-256, binds its resource and enables XEP-0198 with resumption", () => {
    const started = run.events.find((e) => e.event === "session_start")!;
    assert.equal(started.jid, "gajim@localhost/gajim.desk");
    const auth = authentications(t).filter((l) => l.jid === "gajim@localhost");
    assert.equal(auth[0]?.mechanism, "SCRAM-SHA-256");
    const sm = run.events.find((e) => e.event === "sm_enabled");
    assert.equal(sm?.resume, "true");
  });

  it("gets the server's disco#info: an IM server with carbons, blocking, vCard and ping (XEP-0030 §3.1)", () => {
    assert.equal(step("disco-info-server").type, "result");
    const info = data("disco-info-server");
    assert.deepEqual(
      info.identities.filter((i: string[]) => i[0] === "server"),
      [["server", "im"]],
    );
    for (const f of ["urn:xmpp:carbons:2", "urn:xmpp:blocking", "vcard-temp", "urn:xmpp:ping"]) {
      assert.ok(info.features.includes(f), `feature ${f} (Gajim acts on it)`);
    }
  });

  it("gets disco#info of its own bare JID, answered by the server for the account (XEP-0030 §3.1, RFC 6121 §8.5.1)", () => {
    assert.equal(step("disco-info-account").type, "result");
    assert.deepEqual([...data("disco-info-account").identities].sort(), [
      ["account", "registered"],
      ["pubsub", "pep"],
    ]);
    // XEP-0313 §7: Gajim looks here for the archive before it queries it; XEP-0402 §4: for
    // publish-options before it keeps bookmarks in PEP.
    for (const f of [
      "urn:xmpp:mam:2",
      "urn:xmpp:mam:2#extended",
      "http://jabber.org/protocol/pubsub#publish-options",
      // What the compliance checks look for: XEP-0402 §3.4 (compat), XEP-0398 §3.
      "urn:xmpp:bookmarks:1#compat",
      "urn:xmpp:pep-vcard-conversion:0",
    ]) {
      assert.ok(data("disco-info-account").features.includes(f), `feature ${f}`);
    }
  });

  it("gets the server's disco#items with the MUC service, and its disco#info (XEP-0030 §4, XEP-0045 §6.1)", () => {
    assert.equal(step("disco-items-server").type, "result");
    assert.deepEqual([...data("disco-items-server").items].sort(), [
      ["conference.localhost", null],
      ["proxy.localhost", null],
      ["pubsub.localhost", null],
      ["upload.localhost", null],
    ]);
    const muc = step("disco-info conference.localhost");
    assert.equal(muc.type, "result");
    assert.deepEqual((muc.data as any).identities, [["conference", "text"]]);
    assert.ok((muc.data as any).features.includes("http://jabber.org/protocol/muc"));
  });

  it("finds the HTTP upload service and its size limit, as Gajim's upload does (XEP-0363 §3)", () => {
    const upload = step("disco-info upload.localhost");
    assert.equal(upload.type, "result");
    const info = upload.data as {
      identities: string[][];
      features: string[];
      httpupload_max_file_size: number;
    };
    assert.deepEqual(info.identities, [["store", "file"]]);
    assert.ok(info.features.includes("urn:xmpp:http:upload:0"));
    assert.equal(info.httpupload_max_file_size, 104857600);
  });

  it("finds the SOCKS5 proxy Gajim offers for file transfer: identity proxy/bytestreams (XEP-0065 §4)", () => {
    const proxy = step("disco-info proxy.localhost");
    assert.equal(proxy.type, "result");
    const info = proxy.data as { identities: string[][]; features: string[] };
    assert.deepEqual(info.identities, [["proxy", "bytestreams"]]);
    assert.ok(info.features.includes("http://jabber.org/protocol/bytestreams"));
  });

  it("enables message carbons (XEP-0280 §4)", () => {
    assert.equal(step("carbons-enable").type, "result");
  });

  it("gets its roster with a version (RFC 6121 §2.2, §2.6)", () => {
    assert.equal(step("roster").type, "result");
    assert.deepEqual(data("roster").items, []);
    assert.ok(data("roster").ver, "a version Gajim can store");
  });

  it("gets its bookmarks from private storage and its roster notes (XEP-0048 §3.3 over XEP-0049, XEP-0145)", () => {
    assert.equal(step("bookmarks-private").type, "result");
    assert.deepEqual(data("bookmarks-private"), { count: 0 });
    assert.equal(step("annotations").type, "result");
  });

  it("gets its block list (XEP-0191 §3.2)", () => {
    assert.equal(step("blocklist").type, "result");
  });

  it("queries the last week of its archive and gets a result, no longer service-unavailable (XEP-0313 §4, §4.1.2)", () => {
    assert.equal(step("mam-query").type, "result");
  });

  it("is told item-not-found for PEP bookmarks it never stored, which Gajim reads as none (XEP-0402, XEP-0060 §6.5.9.11)", () => {
    const pep = step("bookmarks-pep");
    assert.deepEqual(
      [pep.type, pep.condition, pep.error_type],
      ["error", "item-not-found", "cancel"],
    );
  });

  it("gets an answer to every request (no timeout)", () => {
    const silent = [...steps.values()].filter((s) => s.type === "timeout").map((s) => s.name);
    assert.deepEqual(silent, []);
  });
});
