// The load generator's PEP client (XEP-0163), for the pep scenario (pep.ts): what a worker does
// with its share of the users. Each user is bench<i> with its `contacts` ring neighbours
// (i±1 … i±contacts/2, modulo the users) as mutual presence subscriptions, made here over XMPP
// (RFC 6121 §3.1: subscribe, approved by the contact's client with subscribed). Logged in, it
// announces in XEP-0115 caps that it wants notifications of the three nodes a Conversations-like
// client follows, answers the server's disco#info for them, publishes to them, and counts the
// notifications it gets: each publish of a user should reach its contacts and itself once.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { paced, pool, wallUs, type Sender } from "./pacing.js";
import {
  userName,
  type LoginBatchResult,
  type PepDrainResult,
  type PepRosterResult,
  type PepStepResult,
  type PepSubscribeResult,
} from "./protocol.js";
import { Histogram } from "./stats.js";
import { attr, condition, ping, type Conn, type El } from "./xmpp.js";

/** What the worker lends: its table of kept sessions, and its logins that keep sessions there
 * (resource w<worker>), each readied by `start`. */
export interface WorkerEnv {
  domain: string;
  workerIndex: number;
  conns: Map<string, Conn>;
  keep(
    users: string[],
    concurrency: number,
    start: (user: string, conn: Conn) => Promise<void>,
  ): Promise<LoginBatchResult>;
}

const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const NODE_AVATAR = "urn:xmpp:avatar:metadata";
const NODE_NICK = "http://jabber.org/protocol/nick";
const NODE_DEVICES = "eu.siacs.conversations.axolotl.devicelist";
const LOGIN_TIMEOUT_MS = 30_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// The client's disco#info (XEP-0030) and caps (XEP-0115): "+notify" asks for the nodes'
// notifications (XEP-0163 §4.3.1, XEP-0060 §9.2).
const CAPS_NODE = "https://github.com/parley-xmpp/parley/bench";
const IDENTITY = { category: "client", type: "pc", name: "parley-bench" };
const FEATURES = [
  NS_CAPS,
  NS_DISCO_INFO,
  `${NODE_AVATAR}+notify`,
  `${NODE_NICK}+notify`,
  `${NODE_DEVICES}+notify`,
];

/** XEP-0115 §5.1: identities then features, each sorted ("i;octet") and ended by '<'; SHA-1. */
export function capsVer(): string {
  const octets = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const s =
    `${IDENTITY.category}/${IDENTITY.type}//${IDENTITY.name}<` +
    [...FEATURES]
      .sort(octets)
      .map((f) => `${f}<`)
      .join("");
  return createHash("sha1").update(s, "utf8").digest("base64");
}

const VER = capsVer();
const PRESENCE = `<presence><c xmlns='${NS_CAPS}' hash='sha-1' node='${CAPS_NODE}' ver='${VER}'/></presence>`;
const DISCO_BODY =
  `<identity category='${IDENTITY.category}' type='${IDENTITY.type}' name='${IDENTITY.name}'/>` +
  FEATURES.map((f) => `<feature var='${f}'/>`).join("");

/** The three payloads, in turn: XEP-0084 avatar metadata, XEP-0172 nick, the OMEMO device list
 * (open to anyone, as Conversations publishes it: XEP-0060 §7.1.5 publish-options). */
function publish(kind: number, id: string, user: number): string {
  const item = (node: string, payload: string, options = "") =>
    `<pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='${id}'>${payload}</item></publish>${options}</pubsub>`;
  switch (kind % 3) {
    case 0:
      return item(
        NODE_AVATAR,
        `<metadata xmlns='${NODE_AVATAR}'><info bytes='23456' id='8d6f3b1e0c2a4f5e9b7d1c3a5e7f9b0d2c4e6a8b' height='96' width='96' type='image/png'/></metadata>`,
      );
    case 1:
      return item(NODE_NICK, `<nick xmlns='${NODE_NICK}'>Bench User ${user}</nick>`);
    default:
      return item(
        NODE_DEVICES,
        `<list xmlns='eu.siacs.conversations.axolotl'><device id='${100000 + user}'/></list>`,
        `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// The worker's PEP users and the step being counted.

interface PepUser {
  index: number;
  /** Contacts (bare JIDs) that approved our subscription request. */
  approved: Set<string>;
}

/** What a step counts (PepDrainResult's counters), and how. */
interface StepState extends Omit<PepDrainResult, "expected" | "hist" | "cpuMs" | "elu"> {
  step: number;
  capacity: number;
  workers: number;
  /** For each (publish, recipient) of this worker, the copies that came. */
  seen: Uint8Array;
  hist: Histogram;
  inWindow: boolean;
}

let ring = { n: 0, contacts: 0 };
let users: PepUser[] = [];
let state: StepState | null = null;

const bareOf = (jid: string) => jid.split("/")[0]!;
const indexOf = (jid: string) => Number(/^bench(\d+)@/.exec(jid)?.[1] ?? NaN);

/** Ring neighbours of user i (i±1 … i±contacts/2). */
export function contactsOf(i: number, n: number, contacts: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= contacts / 2; d++) out.push((i + d) % n, (i - d + n) % n);
  return out;
}

/** Where `from` sits relative to `me` on the ring: -contacts/2 … contacts/2, or null. */
function offset(from: number, me: number): number | null {
  const d = (((me - from) % ring.n) + ring.n) % ring.n;
  const off = d <= ring.contacts / 2 ? d : d - ring.n;
  return Math.abs(off) <= ring.contacts / 2 ? off : null;
}

function reply(conn: Conn, el: El, body: string): void {
  const from = attr(el, "from");
  const to = from ? ` to='${from}'` : "";
  conn.write(`<iq type='result' id='${attr(el, "id") ?? ""}'${to}>${body}</iq>`);
}

/** A notification (XEP-0060 §7.1.2.1): item id `<step>.<publish>.<µs sent>`. */
function notified(el: El, me: number): void {
  const st = state;
  const ev = el.raw.indexOf(NS_EVENT, el.startEnd);
  const at = ev < 0 ? -1 : el.raw.indexOf("<item ", ev);
  if (at < 0) return;
  const id = attr(
    { name: "item", raw: el.raw.slice(at), startEnd: el.raw.indexOf(">", at) - at + 1 },
    "id",
  );
  const [step, global, sentUs] = (id ?? "").split(".").map(Number);
  if (!st || step !== st.step) {
    if (st) st.late++;
    return;
  }
  const off = offset(indexOf(attr(el, "from") ?? ""), me);
  if (off === null || !(global! < st.capacity)) {
    st.unexpected++;
    return;
  }
  st.hist.add(wallUs() - sentUs!);
  st.received++;
  const k = global! * (ring.contacts + 1) + off + ring.contacts / 2;
  if (st.seen[k] === 0) {
    st.distinct++;
    if (st.inWindow) st.receivedInWindow++;
  } else {
    st.duplicated++;
    if (off === 0) st.duplicatedSelf++;
    st.duplicatedByNode[Math.floor(global! / st.workers) % 3]!++;
  }
  if (st.seen[k]! < 255) st.seen[k]!++;
}

/**
 * Everything a PEP user's session gets: subscription requests approved (RFC 6121 §3.1.3),
 * approvals noted, roster pushes acknowledged (§2.1.6), disco#info of our caps answered
 * (XEP-0115 §6.2), other requests refused, publish results counted, notifications counted.
 * IQ results other than publishes' go on to the connection's queue (pings, roster gets).
 */
function handler(conn: Conn, u: PepUser) {
  return (el: El): boolean => {
    if (el.name === "message") {
      notified(el, u.index);
      return true;
    }
    if (el.name === "presence") {
      const type = attr(el, "type");
      const from = bareOf(attr(el, "from") ?? "");
      if (type === "subscribe") conn.write(`<presence type='subscribed' to='${from}'/>`);
      else if (type === "subscribed") u.approved.add(from);
      return true;
    }
    if (el.name !== "iq") return true;
    const type = attr(el, "type");
    if (type === "get" || type === "set") {
      if (el.raw.includes(NS_DISCO_INFO) && type === "get") {
        const node = attr({ ...el, startEnd: el.raw.length }, "node");
        reply(
          conn,
          el,
          `<query xmlns='${NS_DISCO_INFO}'${node ? ` node='${node}'` : ""}>${DISCO_BODY}</query>`,
        );
      } else if (el.raw.includes("jabber:iq:roster") && type === "set") {
        reply(conn, el, "");
      } else {
        const from = attr(el, "from");
        conn.write(
          `<iq type='error' id='${attr(el, "id") ?? ""}'${from ? ` to='${from}'` : ""}><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
        );
      }
      return true;
    }
    if (!(attr(el, "id") ?? "").startsWith("pp")) return false;
    if (state) {
      if (type === "result") state.published++;
      else {
        const c = condition(el);
        state.publishErrors[c] = (state.publishErrors[c] ?? 0) + 1;
      }
    }
    return true;
  };
}

function session(env: WorkerEnv, i: number): Conn {
  const conn = env.conns.get(userName(i));
  if (!conn || conn.closed) throw new Error(`${userName(i)} is not logged in`);
  return conn;
}

// ---------------------------------------------------------------------------------------------
// Commands.

/**
 * The sessions of "login" take the PEP handler: from now on requests are approved. Each then
 * fetches its roster, which makes it an "interested resource" (RFC 6121 §2.1.6): only those
 * get roster pushes and the approvals of their own requests (§3.1.6).
 */
export async function pepApprove(
  env: WorkerEnv,
  indices: number[],
  n: number,
  contacts: number,
): Promise<{ users: number }> {
  ring = { n, contacts };
  users = indices.map((index) => ({ index, approved: new Set<string>() }));
  for (const u of users) {
    const conn = session(env, u.index);
    conn.onElement = handler(conn, u);
  }
  await pool(users, 20, async (u) => void (await roster(session(env, u.index), u.index)));
  return { users: users.length };
}

/** The user's roster (RFC 6121 §2.1.3): the bare JIDs with subscription both. */
async function roster(conn: Conn, i: number): Promise<Set<string>> {
  const id = `roster-${i}`;
  conn.write(`<iq type='get' id='${id}'><query xmlns='jabber:iq:roster'/></iq>`);
  const res = await conn.iqResult(id, 60_000, "roster");
  const both = new Set<string>();
  for (const m of res.raw.matchAll(/<item\b[^>]*>/g)) {
    const item = { name: "item", raw: m[0], startEnd: m[0].length };
    if (attr(item, "subscription") === "both") both.add(attr(item, "jid") ?? "");
  }
  return both;
}

export async function pepSubscribe(
  env: WorkerEnv,
  concurrency: number,
  timeoutMs: number,
): Promise<PepSubscribeResult> {
  const t0 = performance.now();
  let done = 0;
  let timedOut = 0;
  await pool(users, concurrency, async (u) => {
    const want = contactsOf(u.index, ring.n, ring.contacts).map(
      (c) => `${userName(c)}@${env.domain}`,
    );
    session(env, u.index).write(want.map((j) => `<presence type='subscribe' to='${j}'/>`).join(""));
    const end = performance.now() + timeoutMs;
    while (want.some((j) => !u.approved.has(j)) && performance.now() < end) await sleep(20);
    if (want.every((j) => u.approved.has(j))) done++;
    else timedOut++;
  });
  return { done, timedOut, ms: performance.now() - t0, cpuMs: 0, elu: 0 };
}

export async function pepRoster(env: WorkerEnv, indices: number[]): Promise<PepRosterResult> {
  const r = { ok: 0, wrong: 0, examples: [] as string[] };
  await pool(indices, 20, async (i) => {
    const both = await roster(session(env, i), i);
    const missing = contactsOf(i, ring.n, ring.contacts).filter(
      (c) => !both.has(`${userName(c)}@${env.domain}`),
    );
    if (missing.length === 0) r.ok++;
    else {
      r.wrong++;
      if (r.examples.length < 3)
        r.examples.push(`${userName(i)} lacks ${missing.length} (e.g. ${userName(missing[0]!)})`);
    }
  });
  return { ...r, cpuMs: 0, elu: 0 };
}

/** Logs the users in with caps in their initial presence, the handler in place before it. */
export function pepLogin(
  env: WorkerEnv,
  indices: number[],
  n: number,
  contacts: number,
  concurrency: number,
): Promise<LoginBatchResult> {
  ring = { n, contacts };
  users = [];
  return env.keep(indices.map(userName), concurrency, async (user, conn) => {
    const u = { index: indexOf(`${user}@`), approved: new Set<string>() };
    conn.onElement = handler(conn, u);
    conn.write(PRESENCE);
    await ping(conn, env.domain, LOGIN_TIMEOUT_MS);
    users.push(u);
  });
}

interface Publisher extends Sender {
  index: number;
}

export async function pepStep(
  env: WorkerEnv,
  step: number,
  rate: number,
  durationMs: number,
  capacity: number,
  workers: number,
): Promise<PepStepResult> {
  state = {
    step,
    capacity,
    workers,
    seen: new Uint8Array(capacity * (ring.contacts + 1)),
    hist: new Histogram(),
    distinct: 0,
    receivedInWindow: 0,
    received: 0,
    duplicated: 0,
    duplicatedSelf: 0,
    duplicatedByNode: [0, 0, 0],
    late: 0,
    unexpected: 0,
    published: 0,
    publishErrors: {},
    inWindow: true,
  };
  const publishers: number[] = [];
  const senders: Publisher[] = users.map((u) => ({
    conn: session(env, u.index),
    prefix: `<iq type='set' id='pp${env.workerIndex}-${step}-`,
    index: u.index,
  }));
  const w = await paced(senders, rate, durationMs, (s, n) => {
    publishers.push(s.index);
    const id = `${step}.${n * workers + env.workerIndex}.${wallUs()}`;
    return `${s.prefix}${n}'>${publish(n, id, s.index)}</iq>`;
  });
  state.inWindow = false;
  return { ...w, publishers, cpuMs: 0, elu: 0 };
}

/** The rest of a step: waits for every notification this worker's users should get. */
export async function pepDrain(sent: number[][], drainMs: number): Promise<PepDrainResult> {
  const st = state;
  if (!st) throw new Error("pepDrain without pepStep");
  const mine = new Set(users.map((u) => u.index));
  let expected = 0;
  for (const list of sent) {
    for (const p of list) {
      for (let off = -ring.contacts / 2; off <= ring.contacts / 2; off++)
        if (mine.has((((p + off) % ring.n) + ring.n) % ring.n)) expected++;
    }
  }
  const end = performance.now() + drainMs;
  while (st.distinct < expected && performance.now() < end) await sleep(20);
  await sleep(50); // a second copy right behind the first still counts as one
  state = null;
  const { seen: _seen, hist, inWindow: _i, step: _s, capacity: _c, workers: _w, ...counts } = st;
  return { ...counts, expected, hist: hist.toJSON(), cpuMs: 0, elu: 0 };
}
