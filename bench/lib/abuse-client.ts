// A process of the abuse scenario's attackers (abuse.ts forks a few): it holds idle sessions,
// slow-loris connections and the flooding client, apart from the load generator's workers that
// carry the normal users' chat, so that the chat's latencies are not measured through an event
// loop busy with ten thousand other sockets. Everything here goes to LOOPBACK (xmpp.ts), and
// everything is bounded: the coordinator ends the process at the end of the scenario (and the
// process ends itself if the coordinator goes away).
import net from "node:net";
import { performance } from "node:perf_hooks";
import { pool } from "./pacing.js";
import { passwordOf, type ErrorCounts } from "./protocol.js";
import { SaltedPasswordCache } from "./scram.js";
import { attr, countError, LOOPBACK, login, type Conn, type El } from "./xmpp.js";

export type AbuseCommand =
  | { op: "init"; port: number; domain: string }
  /** Log in [user, resource] sessions (STARTTLS, SCRAM, bind, initial presence), keep them silent. */
  | { op: "idle"; sessions: [string, string][]; concurrency: number }
  /**
   * Slow-loris connections: `pre` TCP connections that trickle a stream header, and the `post`
   * sessions, logged in, that trickle a stanza; one byte every byteMs each, started over spreadMs.
   */
  | { op: "slow"; pre: number; post: [string, string][]; byteMs: number; spreadMs: number }
  /** One session that writes messages to itself as fast as its socket takes them. */
  | { op: "flood"; user: string; resource: string; bodyBytes: number }
  /** Counters so far (the coordinator samples the flood every second). */
  | { op: "sample" }
  | { op: "report" };

export interface IdleResult {
  ok: number;
  failed: number;
  errors: ErrorCounts;
  loginMs: number[];
}

export interface SlowConnReport {
  kind: "pre" | "post";
  /** ms since the process's time origin: when the connection was ready to trickle, and closed. */
  startMs: number;
  closedMs: number | null;
  bytes: number;
  /** The stream error the server sent, if any. */
  error?: string;
}

export interface FloodSample {
  /** Messages echoed back by the server (it read and routed them). */
  echoed: number;
  /** Bytes handed to the socket, and still unsent in this process. */
  written: number;
  backlog: number;
  closedMs: number | null;
  error?: string;
  atMs: number;
}

export interface AbuseSample {
  flood: FloodSample | null;
  idleOpen: number;
  idleClosed: number;
  slowOpen: number;
  pingsAnswered: number;
}

/** A slow connection as reported: how long it lived (closed) or has been open (not yet). */
export interface SlowLife {
  kind: "pre" | "post";
  lifeS: number | null;
  openS: number;
  bytes: number;
  error?: string;
}

export interface AbuseReport extends AbuseSample {
  slow: SlowLife[];
  postLoginFailed: number;
  postErrors: ErrorCounts;
  /** The flood message's size in bytes, as written. */
  floodMessageBytes: number;
}

let port = 0;
let domain = "";
const cache = new SaltedPasswordCache();
const idle: Conn[] = [];
const slow: { report: SlowConnReport; stop: () => void }[] = [];
let flood: { conn: Conn; sample: FloodSample; timer: NodeJS.Timeout; bytes: number } | null = null;
let pingsAnswered = 0;
let postLoginFailed = 0;
const postErrors: ErrorCounts = {};

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Answers the server's pings (XEP-0199 §4.1: a live client answers); everything else is dropped. */
function answerPings(conn: Conn): (el: El) => boolean {
  return (el) => {
    if (el.name === "iq" && attr(el, "type") === "get" && el.raw.includes("urn:xmpp:ping")) {
      const from = attr(el, "from");
      conn.write(`<iq type='result' id='${attr(el, "id")}'${from ? ` to='${from}'` : ""}/>`);
      pingsAnswered++;
    }
    return true;
  };
}

function loginOpts(user: string, resource: string) {
  return {
    port,
    domain,
    user,
    password: passwordOf(user),
    resource,
    cache,
    timeoutMs: 60_000,
    presence: true,
  };
}

async function idleLogin(sessions: [string, string][], concurrency: number): Promise<IdleResult> {
  const r: IdleResult = { ok: 0, failed: 0, errors: {}, loginMs: [] };
  await pool(sessions, concurrency, async ([user, resource]) => {
    try {
      const res = await login(loginOpts(user, resource));
      res.conn.onElement = answerPings(res.conn);
      idle.push(res.conn);
      r.ok++;
      r.loginMs.push(res.loginMs);
    } catch (err) {
      r.failed++;
      countError(r.errors, err);
    }
  });
  return r;
}

/** Trickles `text` one byte every byteMs through `write`, until stop() or the text ends. */
function trickle(text: string, byteMs: number, report: SlowConnReport, write: (b: string) => void) {
  let i = 0;
  const timer = setInterval(() => {
    if (report.closedMs !== null || i >= text.length) return clearInterval(timer);
    write(text[i++]!);
    report.bytes++;
  }, byteMs);
  return () => clearInterval(timer);
}

const HEADER = () =>
  `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xml:lang='en' ` +
  `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** A TCP connection that never finishes its stream header (pre-authentication slow loris). */
function slowPre(byteMs: number): Promise<void> {
  return new Promise((resolve) => {
    const report: SlowConnReport = { kind: "pre", startMs: now(), closedMs: null, bytes: 0 };
    const sock = net.connect({ host: LOOPBACK, port, noDelay: true });
    let stop = () => {};
    sock.on("error", (err) => {
      report.error ??= err.message;
    });
    sock.on("data", (d: Buffer) => {
      const m = /<stream:error>\s*<([a-z-]+)/.exec(d.toString("latin1"));
      if (m) report.error = m[1];
    });
    sock.on("close", () => {
      report.closedMs ??= now();
      stop();
      resolve();
    });
    sock.once("connect", () => {
      report.startMs = now();
      stop = trickle(HEADER(), byteMs, report, (b) => sock.write(b));
      slow.push({ report, stop: () => sock.destroy() });
      resolve();
    });
  });
}

/** A logged-in session that never finishes its next stanza (post-authentication slow loris). */
async function slowPost(user: string, resource: string, byteMs: number): Promise<void> {
  let conn: Conn;
  try {
    conn = (await login(loginOpts(user, resource))).conn;
  } catch (err) {
    postLoginFailed++;
    countError(postErrors, err);
    return;
  }
  const report: SlowConnReport = { kind: "post", startMs: now(), closedMs: null, bytes: 0 };
  // Mid-stanza, it cannot answer the server's pings: anything written would be inside the stanza.
  conn.onElement = (el) => {
    if (el.name === "stream:error")
      report.error = /<([a-z-]+)[\s/>]/.exec(el.raw.slice(el.startEnd))?.[1];
    return true;
  };
  const stanza = `<message to='${user}@${domain}' type='chat'><body>${"z".repeat(4096)}</body></message>`;
  const stop = trickle(stanza, byteMs, report, (b) => conn.write(b));
  conn.onClosed = () => {
    report.closedMs ??= now();
    report.error ??= conn.error?.message;
    stop();
  };
  slow.push({ report, stop: () => conn.destroy() });
}

async function startSlow(pre: number, post: [string, string][], byteMs: number, spreadMs: number) {
  const total = pre + post.length;
  const gap = total > 0 ? spreadMs / total : 0;
  const started: Promise<void>[] = [];
  // Interleaved, so that neither kind is all early or all late.
  const order: (number | null)[] = [];
  for (let i = 0; i < Math.max(pre, post.length); i++) {
    if (i < pre) order.push(null);
    if (i < post.length) order.push(i);
  }
  for (const p of order) {
    started.push(p === null ? slowPre(byteMs) : slowPost(post[p]![0], post[p]![1], byteMs));
    await sleep(gap);
  }
  await Promise.all(started);
  return { pre: slow.filter((s) => s.report.kind === "pre").length, post: slow.length };
}

/** Keeps the flood session's socket full: whole stanzas, so it can still answer pings. */
async function startFlood(user: string, resource: string, bodyBytes: number) {
  const res = await login(loginOpts(user, resource));
  const conn = res.conn;
  const msg = `<message to='${conn.jid}' type='chat'><body>${"f".repeat(bodyBytes)}</body></message>`;
  const batch = msg.repeat(Math.max(1, Math.floor(16384 / msg.length)));
  const sample: FloodSample = { echoed: 0, written: 0, backlog: 0, closedMs: null, atMs: now() };
  const pings = answerPings(conn);
  conn.onElement = (el) => {
    if (el.name === "message") sample.echoed++;
    else if (el.name === "stream:error") sample.error = el.raw.slice(0, 200);
    else pings(el);
    return true;
  };
  conn.onClosed = () => {
    sample.closedMs ??= now();
    sample.error ??= conn.error?.message;
  };
  const timer = setInterval(() => {
    // As fast as the socket takes it: never more than 1 MiB waiting in this process.
    while (!conn.closed && conn.backlog < 1 << 20) {
      conn.write(batch);
      sample.written += batch.length;
    }
  }, 2);
  flood = { conn, sample, timer, bytes: msg.length };
  return { jid: conn.jid, messageBytes: msg.length };
}

function sampleNow(): AbuseSample {
  if (flood) {
    flood.sample.backlog = flood.conn.backlog;
    flood.sample.atMs = now();
  }
  return {
    flood: flood ? { ...flood.sample } : null,
    idleOpen: idle.filter((c) => !c.closed).length,
    idleClosed: idle.filter((c) => c.closed).length,
    slowOpen: slow.filter((s) => s.report.closedMs === null).length,
    pingsAnswered,
  };
}

async function run(cmd: AbuseCommand): Promise<unknown> {
  switch (cmd.op) {
    case "init":
      port = cmd.port;
      domain = cmd.domain;
      return { pid: process.pid, originMs: performance.timeOrigin };
    case "idle":
      return idleLogin(cmd.sessions, cmd.concurrency);
    case "slow":
      return startSlow(cmd.pre, cmd.post, cmd.byteMs, cmd.spreadMs);
    case "flood":
      return startFlood(cmd.user, cmd.resource, cmd.bodyBytes);
    case "sample":
      return sampleNow();
    case "report":
      if (flood) clearInterval(flood.timer);
      return {
        ...sampleNow(),
        slow: slow.map(({ report: r }) => ({
          kind: r.kind,
          lifeS: r.closedMs === null ? null : (r.closedMs - r.startMs) / 1000,
          openS: (now() - r.startMs) / 1000,
          bytes: r.bytes,
          ...(r.error && { error: r.error }),
        })),
        postLoginFailed,
        postErrors,
        floodMessageBytes: flood?.bytes ?? 0,
      } satisfies AbuseReport;
  }
}

process.on("message", (req: { id: number; cmd: AbuseCommand }) => {
  run(req.cmd).then(
    (result) => process.send!({ id: req.id, ok: true, result }),
    (err: unknown) =>
      process.send!({
        id: req.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }),
  );
});
// The coordinator went away (or ended the scenario): never keep sockets open on our own.
process.on("disconnect", () => process.exit(0));
