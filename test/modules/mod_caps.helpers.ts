// Helpers for the tests of mod_caps's client side: a probe module that reads mod_caps's API,
// and a client that announces caps and answers the server's disco#info like a real one.
import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import { verificationString } from "../../modules/mod_caps/index.js";

export const INFO = "http://jabber.org/protocol/disco#info";
export const CAPS = "http://jabber.org/protocol/caps";
export const NS_PROBE = "urn:test:caps-probe";
export const CLIENT_NODE = "https://client.example/caps";

/**
 * A module that answers, for the full JID in `jid`: `<caps/>` what featuresOf says (with
 * `wait`, once a caps:updated event makes it known), `<resolve/>` what resolve() of its `<c/>`
 * says; both with `asked`, how many disco#info requests of the server that session received.
 */
const PROBE_PLUGIN = `
const NS = "${NS_PROBE}";
export default {
  name: "mod_caps_probe",
  description: "test: reads client caps through mod_caps's API",
  options: {},
  dependencies: { hard: ["mod_caps"] },
  start(ctx) {
    const asked = new Map();
    const waiters = new Map();
    ctx.hook("user_receive_packet", ({ session, stanza }) => {
      const q = stanza.getChild("query", "${INFO}");
      if (stanza.name !== "iq" || stanza.attrs.type !== "get" || !q) return;
      if (stanza.attrs.from !== ctx.host) return;
      const jid = session.jid.toString();
      asked.set(jid, (asked.get(jid) ?? 0) + 1);
    });
    ctx.on("caps:updated", ({ host, jid, features }) => {
      if (host !== ctx.host) return;
      for (const w of waiters.get(jid) ?? []) w(features);
      waiters.delete(jid);
    });
    const answer = (jid, features) =>
      ctx.xml(
        "caps",
        { xmlns: NS, known: String(features !== undefined), asked: String(asked.get(jid) ?? 0) },
        ...[...(features ?? [])].sort().map((v) => ctx.xml("feature", { var: v })),
      );
    const api = () => ctx.module("mod_caps");
    ctx.iq("get", NS, "caps", async ({ payload }) => {
      const jid = payload.attrs.jid;
      let features = api().featuresOf(jid);
      if (!features && payload.attrs.wait) {
        features = await new Promise((resolve) =>
          waiters.set(jid, [...(waiters.get(jid) ?? []), resolve]),
        );
      }
      return answer(jid, features);
    });
    ctx.iq("get", NS, "resolve", async ({ payload }) => {
      const jid = payload.attrs.jid;
      return answer(jid, await api().resolve(jid, payload.getChild("c", "${CAPS}")));
    });
  },
};
`;

/** Writes the probe module to a fresh directory; returns its path for `modules: { path }`. */
export function probePlugin(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "parley-caps-"));
  const path = join(dir, "mod_caps_probe.mjs");
  writeFileSync(path, PROBE_PLUGIN);
  return { dir, path };
}

/** A client's disco#info: an identity and these features (XEP-0030 §3.1). */
export function clientInfo(...features: string[]): Element {
  return xml(
    "query",
    { xmlns: INFO },
    xml("identity", { category: "client", type: "pc", name: "Test client" }),
    ...[INFO, CAPS, ...features].map((v) => xml("feature", { var: v })),
  );
}

/** The <c/> for `info` (XEP-0115 §4), its ver computed with `hash` unless `ver` is given. */
export function capsFor(info: Element, hash = "sha-1", ver?: string): Element {
  return xml("c", {
    xmlns: CAPS,
    hash,
    node: CLIENT_NODE,
    ver: ver ?? verificationString(info, hash),
  });
}

/**
 * Makes `c` answer the server's disco#info requests (XEP-0115 §5.4 step 3) with what `info`
 * gives for the asked node, at that node (§6.2), as a client library does; a promise that never
 * settles is a client that never answers. Returns the requests, as they come.
 */
export function serveDisco(
  c: TestClient,
  info: (node: string) => Element | Promise<Element>,
): Element[] {
  const asked: Element[] = [];
  c.xmpp.iqCallee.get(INFO, "query", async ({ stanza }: { stanza: Element }) => {
    asked.push(stanza);
    assert.equal(stanza.attrs.from, "localhost");
    const node = String(stanza.getChild("query", INFO)!.attrs.node);
    const query = xml("query", { xmlns: INFO, node });
    for (const child of (await info(node)).getChildElements()) {
      query.append(xml(child.name, child.attrs));
    }
    return query;
  });
  return asked;
}

export interface Probed {
  known: boolean;
  /** How many disco#info requests of the server the session got. */
  asked: number;
  features: string[];
}

let n = 0;
/** Asks the probe module about `jid` (`wait`: until its features are known). */
export async function probe(
  c: TestClient,
  payload: "caps" | "resolve",
  jid: string,
  opts: { wait?: boolean; c?: Element } = {},
): Promise<Probed> {
  const id = `probe${++n}`;
  const el = xml(payload, { xmlns: NS_PROBE, jid, wait: opts.wait ? "1" : undefined });
  if (opts.c) el.append(opts.c);
  await c.send(xml("iq", { type: "get", id, to: "localhost" }, el));
  const res = await c.next((s) => s.name === "iq" && s.attrs.id === id, 15_000);
  const caps = res.getChild("caps", NS_PROBE);
  assert.ok(caps, res.toString());
  return {
    known: caps.attrs.known === "true",
    asked: Number(caps.attrs.asked),
    features: caps.getChildren("feature").map((f) => String(f.attrs.var)),
  };
}

/** Waits for mod_caps's log line `msg` about `jid` (the server logs at debug level in tests). */
export async function logged(
  t: TestServer,
  msg: string,
  jid: string,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 1000; i++) {
    const line = t.logs.find((l) => l.module === "mod_caps" && l.msg === msg && l.jid === jid);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`no log line "${msg}" for ${jid}`);
}
