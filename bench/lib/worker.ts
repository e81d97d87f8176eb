// A load-generator worker process (forked by pool.ts). It holds the connections of its share of
// the users and runs the commands of protocol.ts on them. Everything is bounded: each command
// has a duration or a count, and every wait has a timeout.
import { performance } from "node:perf_hooks";
import {
  passwordOf,
  type Command,
  type ErrorCounts,
  type LoginBatchResult,
  type LoginLoopResult,
  type MsgStepResult,
  type MucDrainResult,
  type MucJoinResult,
  type MucSendResult,
  type OfflineCollectResult,
  type OfflineSendResult,
  type RegisterResult,
  type Reply,
  type Request,
} from "./protocol.js";
import { BACKPRESSURE_BYTES, paced, pool, wallMs, wallUs, type Sender } from "./pacing.js";
import { SaltedPasswordCache } from "./scram.js";
import { Histogram } from "./stats.js";
import { mamPages, mamWalk } from "./mam-client.js";
import { wsLogin, type WsEndpoint } from "./ws-conn.js";
import { boshLogin, type BoshEndpoint } from "./bosh-conn.js";
import { uploadAll } from "./upload-client.js";
import { fastTokens, sasl2Login, type FastEnv } from "./fast-client.js";
import {
  pepApprove,
  pepDrain,
  pepLogin,
  pepRoster,
  pepStep,
  pepSubscribe,
  type WorkerEnv,
} from "./pep-client.js";
import {
  attr,
  condition,
  Conn,
  countError,
  login,
  ping,
  XmppError,
  type El,
  type LoginOptions,
  type LoginResult,
} from "./xmpp.js";

const LOGIN_TIMEOUT_MS = 30_000;
/** Text of every chat message besides the benchmark's fields: a typical short chat line. */
const PAD = "Are we still on for the review at three? I will bring the figures";

let port = 0;
let domain = "";
let workerIndex = 0;
/** Where the server takes XMPP over WebSocket (null: it was not given one). */
let wsEndpoint: WsEndpoint | null = null;
/** Where the server takes BOSH (null: it was not given one). */
let boshEndpoint: BoshEndpoint | null = null;
/** The servers of a two-server scenario by domain (init's `domains`). */
let domains: Record<string, { host: string; port: number }> = {};
const cache = new SaltedPasswordCache();
const conns = new Map<string, Conn>();

const nowUs = (): number => Math.round(performance.now() * 1000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function measured<R>(fn: () => Promise<R>): Promise<R & { cpuMs: number; elu: number }> {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const r = await fn();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  return { ...r, cpuMs: (cpu.user + cpu.system) / 1000, elu };
}

async function register(users: string[], concurrency: number): Promise<RegisterResult> {
  const r = { ok: 0, existed: 0, failed: 0, errors: {} as ErrorCounts };
  await pool(users, concurrency, async (user) => {
    // A few tries: a server that has just started may not have all its parts running yet.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await loginUser(user, { resource: "reg", register: true, authOnly: true });
        if (res.existed) r.existed++;
        else r.ok++;
        await res.conn.close();
        return;
      } catch (err) {
        if (attempt < 3) {
          await sleep(1000);
          continue;
        }
        r.failed++;
        countError(r.errors, err);
        return;
      }
    }
  });
  return { ...r, cpuMs: 0, elu: 0 };
}

/** Elements a kept session gets that nobody waits for (presence, messages) are dropped. */
const dropAllButIq = (el: El): boolean => el.name !== "iq";

/**
 * Where a user lives: `bench3` on the server the generator aims at, `bench3@b.test` on the
 * server of b.test (init's `domains`, a two-server scenario).
 */
function home(user: string): { user: string; domain: string; host?: string; port: number } {
  const at = user.indexOf("@");
  if (at < 0) return { user, domain, port };
  const d = user.slice(at + 1);
  const server = domains[d];
  if (!server) throw new Error(`no server for ${d} was given`);
  return { user: user.slice(0, at), domain: d, host: server.host, port: server.port };
}

/** The bare JID of a user (named as home() reads it). */
const jidOf = (user: string): string => (user.includes("@") ? user : `${user}@${domain}`);

/** Initial presence, then a ping round trip: the server has handled it when the pong comes. */
async function plainStart(user: string, conn: Conn): Promise<void> {
  conn.onElement = dropAllButIq;
  conn.write("<presence/>");
  await ping(conn, home(user).domain, LOGIN_TIMEOUT_MS);
}

/** Logs users in and keeps their sessions, each readied by `start` before it counts. */
async function loginKeep(
  users: string[],
  concurrency: number,
  start: (user: string, conn: Conn) => Promise<void> = plainStart,
  ws = false,
  bosh = false,
): Promise<LoginBatchResult> {
  const r = { ok: 0, failed: 0, errors: {} as ErrorCounts, loginMs: [] as number[] };
  await pool(users, concurrency, async (user) => {
    let conn: Conn | undefined;
    try {
      conns.get(user)?.destroy();
      const res = await loginUser(user, {}, ws, bosh);
      conn = res.conn;
      await start(user, conn);
      conns.set(user, conn);
      r.ok++;
      r.loginMs.push(res.loginMs);
    } catch (err) {
      conn?.destroy();
      r.failed++;
      countError(r.errors, err);
    }
  });
  return { ...r, cpuMs: 0, elu: 0 };
}

/** The kept session of `user` (logged in by "login"). */
function loggedIn(user: string): Conn {
  const conn = conns.get(user);
  if (!conn || conn.closed) throw new Error(`${user} is not logged in`);
  return conn;
}

async function closeAll(): Promise<{ closed: number }> {
  const all = [...conns.values()];
  conns.clear();
  await pool(all, 500, (c) => c.close());
  return { closed: all.length };
}

/**
 * Logins in a loop for durationMs, `concurrency` at a time, each closed again: by default full
 * RFC 6120 ones (STARTTLS, SCRAM, bind, presence), or `loginOnce` (the fast scenario's SASL2).
 */
async function loginLoop(
  users: string[],
  concurrency: number,
  durationMs: number,
  loginOnce?: (user: string) => Promise<{ conn: Conn; loginMs: number }>,
): Promise<LoginLoopResult> {
  const hist = new Histogram();
  const r = { logins: 0, cycles: 0, failed: 0, errors: {} as ErrorCounts };
  const start = performance.now();
  const end = start + durationMs;
  const busy = new Set<string>();
  let cursor = 0;
  let cycle = 0;
  const once =
    loginOnce ??
    ((user: string) => loginUser(user, { resource: `l${workerIndex}-${cycle++}`, presence: true }));
  const lanes = Array.from({ length: Math.min(concurrency, users.length) }, async () => {
    while (performance.now() < end) {
      let user = users[cursor++ % users.length]!;
      while (busy.has(user)) user = users[cursor++ % users.length]!;
      busy.add(user);
      try {
        const res = await once(user);
        if (performance.now() <= end) {
          r.logins++;
          hist.add(res.loginMs * 1000);
        }
        await res.conn.close();
        if (performance.now() <= end) r.cycles++;
      } catch (err) {
        r.failed++;
        countError(r.errors, err);
        await sleep(10);
      } finally {
        busy.delete(user);
      }
    }
  });
  await Promise.all(lanes);
  return { ...r, hist: hist.toJSON(), windowMs: durationMs, cpuMs: 0, elu: 0 };
}

let stepCounter = 0;

async function msgStep(
  pairs: [string, string][],
  rate: number,
  durationMs: number,
  drainMs: number,
): Promise<MsgStepResult> {
  const step = ++stepCounter;
  const stepTag = ` k=${step} t=`;
  const hist = new Histogram();
  let receivedInWindow = 0;
  let received = 0;
  let late = 0;
  let bounced = 0;
  let inWindow = true;

  // Each user of a pair sends to the other; both ends live in this process, so the latency is
  // measured on one clock: performance.now() at send, written in the body, against now at receipt.
  const senders: Sender[] = [];
  const onMessage = (el: El): boolean => {
    if (el.name !== "message") return el.name !== "iq";
    if (attr(el, "type") === "error") {
      bounced++;
      return true;
    }
    const k = el.raw.indexOf(" k=", el.startEnd);
    if (k < 0) return true;
    const t = el.raw.indexOf(" t=", k);
    if (Number(el.raw.slice(k + 3, t)) !== step) {
      late++;
      return true;
    }
    const sentAt = parseInt(el.raw.slice(t + 3, t + 25), 10);
    hist.add(nowUs() - sentAt);
    received++;
    if (inWindow) receivedInWindow++;
    return true;
  };
  for (const [a, b] of pairs) {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const conn = conns.get(from);
      if (!conn || conn.closed) throw new Error(`${from} is not logged in`);
      conn.onElement = onMessage;
      senders.push({
        conn,
        prefix: `<message type='chat' to='${jidOf(to)}' id='m${workerIndex}-${step}-`,
      });
    }
  }

  const w = await paced(
    senders,
    rate,
    durationMs,
    (s, id) => `${s.prefix}${id}'><body>${PAD}${stepTag}${nowUs()}</body></message>`,
  );
  const sent = w.sent;
  inWindow = false;
  // Drain: what was sent still arrives (its latency counts); bounded by drainMs.
  const drainEnd = performance.now() + drainMs;
  while (received + bounced < sent && performance.now() < drainEnd) await sleep(20);
  return {
    offered: w.offered,
    sent,
    receivedInWindow,
    received,
    late,
    bounced,
    hist: hist.toJSON(),
    windowMs: w.windowMs,
    backpressured: w.backpressured,
    cpuMs: 0,
    elu: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// MUC: one room, its occupants spread over the workers.

const NS_MUC = "http://jabber.org/protocol/muc";
const SELF_PRESENCE = /<status\s+code=['"]110['"]/;
const ROOM_CREATED = /<status\s+code=['"]201['"]/;

/**
 * Enters room/nick (XEP-0045 §7.2, no history: §7.2.15) and resolves with the occupant's own
 * presence back (status 110, §7.2.2); rejects on a presence error or after timeoutMs.
 */
function enterRoom(conn: Conn, occupantJid: string, timeoutMs: number): Promise<El> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      conn.onElement = dropAllButIq;
    };
    const timer = setTimeout(() => {
      done();
      reject(new XmppError(`no presence from the room in ${timeoutMs} ms`, "muc-join"));
    }, timeoutMs);
    // Other occupants' presence and the room's subject come too: not needed here.
    conn.onElement = (el) => {
      if (el.name !== "presence") return el.name !== "iq";
      if (attr(el, "from") !== occupantJid) return true;
      if (attr(el, "type") === "error") {
        done();
        reject(new XmppError(`presence error: ${condition(el)}`, "muc-join"));
      } else if (SELF_PRESENCE.test(el.raw)) {
        done();
        resolve(el);
      }
      return true;
    };
    conn.write(
      `<presence to='${occupantJid}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`,
    );
  });
}

async function mucJoin(
  room: string,
  joins: [string, string][],
  create: boolean,
  concurrency: number,
  timeoutMs: number,
): Promise<MucJoinResult> {
  const r = {
    joined: 0,
    failed: 0,
    errors: {} as ErrorCounts,
    created: false,
    joinMs: [] as number[],
  };
  await pool(joins, concurrency, async ([user, nick]) => {
    const conn = conns.get(user);
    try {
      if (!conn || conn.closed) throw new XmppError(`${user} is not logged in`, "muc-join");
      const t0 = performance.now();
      const self = await enterRoom(conn, `${room}/${nick}`, timeoutMs);
      if (create && ROOM_CREATED.test(self.raw)) {
        // §10.1.2: an instant room, the service's default configuration, unlocked for the rest.
        r.created = true;
        conn.write(
          `<iq type='set' id='muc-instant' to='${room}'><query xmlns='${NS_MUC}#owner'>` +
            `<x xmlns='jabber:x:data' type='submit'/></query></iq>`,
        );
        const res = await conn.iqResult("muc-instant", timeoutMs, "muc-create");
        if (attr(res, "type") !== "result") {
          throw new XmppError(`instant room refused: ${condition(res)}`, "muc-create");
        }
      }
      r.joinMs.push(performance.now() - t0);
      r.joined++;
    } catch (err) {
      r.failed++;
      countError(r.errors, err);
    }
  });
  return { ...r, cpuMs: 0, elu: 0 };
}

interface MucStepState {
  step: number;
  occupants: Conn[];
  hist: Histogram;
  receivedInWindow: number;
  received: number;
  distinct: number;
  duplicated: number;
  late: number;
  bounced: number;
  conditions: ErrorCounts;
  inWindow: boolean;
}

let mucState: MucStepState | null = null;

async function mucStep(
  room: string,
  step: number,
  senderNames: string[],
  occupantNames: string[],
  rate: number,
  durationMs: number,
  capacity: number,
  workers: number,
): Promise<MucSendResult> {
  const st: MucStepState = {
    step,
    occupants: [],
    hist: new Histogram(),
    receivedInWindow: 0,
    received: 0,
    distinct: 0,
    duplicated: 0,
    late: 0,
    bounced: 0,
    conditions: {},
    inWindow: true,
  };
  mucState = st;
  // Each message carries its step, send time and a number unique in the step (this worker's
  // running number interleaved with the other workers'), so that every occupant can tell a
  // second copy from a first: one counter per (message, occupant).
  const receiver = (seen: Uint8Array) => (el: El) => {
    if (el.name !== "message") return el.name !== "iq";
    if (attr(el, "type") === "error") {
      st.bounced++;
      const c = condition(el);
      st.conditions[c] = (st.conditions[c] ?? 0) + 1;
      return true;
    }
    const k = el.raw.indexOf(" k=", el.startEnd);
    if (k < 0) return true; // the subject, or anything else the room sends
    const t = el.raw.indexOf(" t=", k);
    const i = el.raw.indexOf(" i=", t);
    if (Number(el.raw.slice(k + 3, t)) !== st.step) {
      st.late++;
      return true;
    }
    st.hist.add(wallUs() - parseInt(el.raw.slice(t + 3, i), 10));
    st.received++;
    if (st.inWindow) st.receivedInWindow++;
    const n = parseInt(el.raw.slice(i + 3, i + 20), 10);
    const c = n < seen.length ? seen[n]! : 255;
    if (c === 0) st.distinct++;
    else st.duplicated++;
    if (c < 255) seen[n] = c + 1;
    return true;
  };
  for (const user of occupantNames) {
    const conn = conns.get(user);
    if (!conn || conn.closed) throw new Error(`${user} is not logged in`);
    conn.onElement = receiver(new Uint8Array(capacity));
    st.occupants.push(conn);
  }
  const senders: Sender[] = senderNames.map((user) => ({
    conn: conns.get(user)!,
    prefix: `<message type='groupchat' to='${room}' id='g${workerIndex}-${step}-`,
  }));
  const w = await paced(
    senders,
    rate,
    durationMs,
    (s, n) =>
      `${s.prefix}${n}'><body>${PAD} k=${step} t=${wallUs()} i=${n * workers + workerIndex} </body></message>`,
  );
  st.inWindow = false;
  return { ...w, cpuMs: 0, elu: 0 };
}

/** The rest of a step: waits until every occupant here has all `sent` messages, or drainMs. */
async function mucDrain(sent: number, drainMs: number): Promise<MucDrainResult> {
  const st = mucState;
  if (!st) throw new Error("mucDrain without mucStep");
  const expected = sent * st.occupants.length;
  const drainEnd = performance.now() + drainMs;
  while (st.distinct < expected && performance.now() < drainEnd) await sleep(20);
  for (const conn of st.occupants) conn.onElement = dropAllButIq;
  mucState = null;
  return {
    receivedInWindow: st.receivedInWindow,
    received: st.received,
    distinct: st.distinct,
    duplicated: st.duplicated,
    late: st.late,
    bounced: st.bounced,
    conditions: st.conditions,
    hist: st.hist.toJSON(),
    cpuMs: 0,
    elu: 0,
  };
}

async function offlineSend(
  sends: [string, string][],
  perPair: number,
  tag: string,
  pingTimeoutMs = 300_000,
): Promise<OfflineSendResult> {
  const conditions: ErrorCounts = {};
  let bounced = 0;
  let sent = 0;
  const onElement = (el: El): boolean => {
    if (el.name === "message" && attr(el, "type") === "error") {
      bounced++;
      const c = condition(el);
      conditions[c] = (conditions[c] ?? 0) + 1;
      return true;
    }
    return el.name !== "iq";
  };
  const bySender = new Map<string, string[]>();
  for (const [from, to] of sends) {
    const list = bySender.get(from) ?? [];
    list.push(to);
    bySender.set(from, list);
  }
  const startMs = wallMs();
  await Promise.all(
    [...bySender].map(async ([from, tos]) => {
      const conn = conns.get(from);
      if (!conn || conn.closed) throw new Error(`${from} is not logged in`);
      conn.onElement = onElement;
      for (let k = 0; k < perPair; k++) {
        let batch = "";
        for (const to of tos) {
          const id = `off-${tag}-${from}-${to}-${k}`;
          batch += `<message type='chat' to='${to}@${domain}' id='${id}'><body>${PAD} id=${id} </body></message>`;
          sent++;
        }
        conn.write(batch);
        // Let the server read: at most a few hundred KiB in flight per sender.
        while (conn.backlog > BACKPRESSURE_BYTES && !conn.closed) await sleep(2);
      }
      // The server handles a session's stanzas in order: the reply to this ping comes after
      // every message above was stored (or bounced).
      await ping(conn, domain, pingTimeoutMs);
    }),
  );
  const endMs = wallMs();
  await sleep(300); // a bounce routed through another process may come just after the ping
  for (const from of bySender.keys()) {
    const conn = conns.get(from);
    if (conn) conn.onElement = dropAllButIq;
  }
  return { sent, bounced, conditions, startMs, endMs, cpuMs: 0, elu: 0 };
}

async function offlineCollect(
  users: string[],
  expect: number,
  quietMs: number,
  maxMs: number,
): Promise<OfflineCollectResult> {
  const ids: string[] = [];
  const errors: ErrorCounts = {};
  let loginFailed = 0;
  let lastMs = 0;
  const onElement = (el: El): boolean => {
    if (el.name !== "message") return el.name !== "iq";
    const at = el.raw.indexOf(" id=off-", el.startEnd);
    if (at >= 0) {
      ids.push(el.raw.slice(at + 4, el.raw.indexOf(" ", at + 4)));
      lastMs = wallMs();
    }
    return true;
  };
  const startMs = wallMs();
  const deadline = performance.now() + maxMs;
  await pool(users, 100, async (user) => {
    try {
      conns.get(user)?.destroy();
      const res = await loginUser(user);
      res.conn.onElement = onElement;
      res.conn.write("<presence/>"); // initial presence: the offline queue comes now
      conns.set(user, res.conn);
    } catch (err) {
      loginFailed++;
      countError(errors, err);
    }
  });
  let seenCount = -1;
  let quietSince = performance.now();
  while (performance.now() < deadline) {
    if (ids.length !== seenCount) {
      seenCount = ids.length;
      quietSince = performance.now();
    }
    if (ids.length >= expect && performance.now() - quietSince >= Math.min(quietMs, 500)) break;
    if (performance.now() - quietSince >= quietMs) break;
    await sleep(20);
  }
  return { ids, loginFailed, errors, startMs, lastMs, cpuMs: 0, elu: 0 };
}

/**
 * A session of `user`, on resource w<worker> unless `extra` says otherwise; TCP, WebSocket or
 * BOSH.
 */
function loginUser(
  user: string,
  extra: Partial<LoginOptions> = {},
  ws = false,
  bosh = false,
): Promise<LoginResult> {
  const o: LoginOptions = {
    ...home(user),
    password: passwordOf(user),
    resource: `w${workerIndex}`,
    cache,
    timeoutMs: LOGIN_TIMEOUT_MS,
    ...extra,
  };
  if (bosh) {
    if (!boshEndpoint) return Promise.reject(new Error("the server was given no BOSH endpoint"));
    return boshLogin(boshEndpoint, o);
  }
  if (!ws) return login(o);
  if (!wsEndpoint) return Promise.reject(new Error("the server was given no WebSocket endpoint"));
  return wsLogin(wsEndpoint, o);
}

/** What the SASL2/FAST client (fast-client.ts) needs of this worker. */
const fastEnv = (): FastEnv => ({ port, domain, cache, passwordOf });

/** What the PEP client (pep-client.ts) needs of this worker. */
const env = (): WorkerEnv => ({ domain, workerIndex, conns, keep: loginKeep });

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case "init":
      port = cmd.port;
      domain = cmd.domain;
      workerIndex = cmd.worker;
      wsEndpoint = cmd.ws ?? null;
      boshEndpoint = cmd.bosh ?? null;
      domains = cmd.domains ?? {};
      return { pid: process.pid };
    case "register":
      return measured(() => register(cmd.users, cmd.concurrency));
    case "login":
      return measured(() => loginKeep(cmd.users, cmd.concurrency, plainStart, cmd.ws, cmd.bosh));
    case "closeAll":
      return closeAll();
    case "loginLoop":
      return measured(() => loginLoop(cmd.users, cmd.concurrency, cmd.durationMs));
    case "fastTokens":
      return fastTokens(fastEnv(), cmd.users, cmd.concurrency);
    case "fastLoop": {
      const env = fastEnv();
      return measured(() =>
        loginLoop(cmd.users, cmd.concurrency, cmd.durationMs, (user) =>
          sasl2Login(env, user, cmd.mode),
        ),
      );
    }
    case "msgStep":
      return measured(() => msgStep(cmd.pairs, cmd.rate, cmd.durationMs, cmd.drainMs));
    case "offlineSend":
      return measured(() => offlineSend(cmd.sends, cmd.perPair, cmd.tag, cmd.pingTimeoutMs));
    case "offlineCollect":
      return measured(() => offlineCollect(cmd.users, cmd.expect, cmd.quietMs, cmd.maxMs));
    case "mucJoin":
      return measured(() =>
        mucJoin(cmd.room, cmd.joins, cmd.create, cmd.concurrency, cmd.timeoutMs),
      );
    case "mucStep":
      return measured(() =>
        mucStep(
          cmd.room,
          cmd.step,
          cmd.senders,
          cmd.occupants,
          cmd.rate,
          cmd.durationMs,
          cmd.capacity,
          cmd.workers,
        ),
      );
    case "mucDrain":
      return measured(() => mucDrain(cmd.sent, cmd.drainMs));
    case "mamWalk":
      return measured(() =>
        mamWalk(
          loggedIn(cmd.user),
          `mq${workerIndex}-`,
          cmd.max,
          cmd.backward,
          cmd.maxPages,
          cmd.maxMs,
        ),
      );
    case "mamPages":
      return measured(() => mamPages(loggedIn(cmd.user), `mq${workerIndex}-`, cmd.max, cmd.pages));
    case "pepApprove":
      return pepApprove(env(), cmd.users, cmd.n, cmd.contacts);
    case "pepSubscribe":
      return measured(() => pepSubscribe(env(), cmd.concurrency, cmd.timeoutMs));
    case "pepRoster":
      return measured(() => pepRoster(env(), cmd.users));
    case "pepLogin":
      return measured(() => pepLogin(env(), cmd.users, cmd.n, cmd.contacts, cmd.concurrency));
    case "pepStep":
      return measured(() =>
        pepStep(env(), cmd.step, cmd.rate, cmd.durationMs, cmd.capacity, cmd.workers),
      );
    case "pepDrain":
      return measured(() => pepDrain(cmd.sent, cmd.drainMs));
    case "upload":
      return measured(() => uploadAll(conns, cmd.users, cmd.service, cmd.size, cmd.timeoutMs));
    case "shutdown":
      for (const c of conns.values()) c.destroy();
      conns.clear();
      setTimeout(() => process.exit(0), 10);
      return {};
  }
}

process.on("message", (req: Request) => {
  run(req.cmd).then(
    (result) => process.send!({ id: req.id, ok: true, result } satisfies Reply),
    (err: unknown) =>
      process.send!({
        id: req.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies Reply),
  );
});
// The coordinator went away: never keep load running on our own.
process.on("disconnect", () => process.exit(0));
