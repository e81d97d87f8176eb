// The server-level fuzzer: raw clients log in to a real server with every module of the shipped
// config and send it random stanzas (stanzas.ts), mutated stanzas and, before authentication,
// mutated stream openings. Checked: every IQ get/set gets a reply with its id (RFC 6120 §8.2.3)
// unless the connection ends in a stream error; every connection the server ends, it ends with
// a stream error (RFC 6120 §4.9); after each batch a fresh client still logs in and exchanges a
// message; nothing is logged at level error, and no exception or rejection goes unhandled.
import { writeFileSync } from "node:fs";
import type { TestServer } from "../../src/testkit/index.js";
import { xml } from "../../src/testkit/index.js";
import { StreamParser } from "../../src/xml/stream-parser.js";
import { FuzzConn } from "./fuzz-conn.js";
import { mutate } from "./mutate.js";
import { Rng, inputSeed } from "./prng.js";
import { CLIENT_OPENING, STREAM_OPENINGS, randomStanza } from "./stanzas.js";

export const FUZZ_USERS = ["fuzz0", "fuzz1", "fuzz2", "fuzz3"];
const password = (user: string): string => `pw-${user}`;
/** How long a reply may take before it counts as missing: generous, this is no timing test. */
const REPLY_WAIT = 30_000;

export interface ServerFailure {
  /** The connection's seed, or the round after which the check failed. */
  seed: number | string;
  what: string;
  saved: string;
}

export interface ServerRunSummary {
  connections: number;
  stanzas: number;
  iqRequests: number;
  streamErrors: Record<string, number>;
  failures: ServerFailure[];
}

/** Registers the fuzz users (the generators address them) and starts watching for faults. */
export async function prepareServer(t: TestServer): Promise<() => string[]> {
  for (const u of FUZZ_USERS) await t.register(u, password(u));
  const faults: string[] = [];
  const onFault = (e: unknown): void => {
    faults.push(`unhandled: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  };
  process.on("unhandledRejection", onFault);
  process.on("uncaughtException", onFault);
  let seen = 0;
  return () => {
    // pino: 50 is error, 60 fatal.
    for (; seen < t.logs.length; seen++) {
      const l = t.logs[seen]!;
      if (typeof l.level === "number" && l.level >= 50)
        faults.push(`logged: ${JSON.stringify(l).slice(0, 2000)}`);
    }
    return faults.splice(0);
  };
}

interface ConnResult {
  sent: string[];
  stanzas: number;
  iqRequests: number;
  streamError: string | null;
  problem: string | null;
}

/**
 * The stream error the parser finds in `bytes` (after a client stream header when `afterHeader`),
 * or null: none, or not before the stream's end (after which the server reads nothing more).
 */
function parserVerdict(bytes: Buffer, afterHeader: boolean): string | null {
  let error: string | null = null;
  let ended = false;
  const p = new StreamParser(
    {
      streamStart: () => undefined,
      stanza: () => undefined,
      streamEnd: () => (ended = true),
      error: (e) => (error = ended ? null : e.condition),
    },
    { maxStanzaSize: 262144 },
  );
  if (afterHeader) p.write(Buffer.from(CLIENT_OPENING));
  p.write(bytes);
  return error;
}

/**
 * A random stanza may change its sender's password or remove the account (XEP-0077 §3.2, §3.3):
 * the account is put back before each login. No two connections at a time share a user.
 */
async function restoreAccount(t: TestServer, user: string): Promise<void> {
  const accounts = t.server.ctx.accounts;
  if (await accounts.exists(user, "localhost"))
    await accounts.changePassword(user, "localhost", password(user));
  else await t.register(user, password(user));
}

/** A logged-in connection as `user` that sends random stanzas, one of them mutated at times. */
async function stanzaConnection(
  t: TestServer,
  seed: number,
  user: string,
  count: number,
): Promise<ConnResult> {
  const rng = new Rng(seed);
  await restoreAccount(t, user);
  const c = await FuzzConn.login(t.port, user, password(user), `fz${seed.toString(36)}`);
  const res: ConnResult = { sent: [], stanzas: 0, iqRequests: 0, streamError: null, problem: null };
  const owed = new Map<string, string>();
  // One connection in five sends one broken stanza among the others: the server must end the
  // stream with an error or go on; after it, what the server answers is not ours to predict.
  const garbleAt = rng.chance(0.2) ? rng.int(count) : -1;
  const garbled = garbleAt !== -1;
  const answered = (): boolean => [...owed.keys()].every((id) => c.replies.has(id));
  for (let i = 0; i < count && !c.closed; i++) {
    const g = randomStanza(rng, `${seed.toString(36)}-${i}`);
    // Removing the account (XEP-0077 §3.2) races with what other connections have in flight
    // for it (see docs/fuzzing.md); that is not fuzzed here.
    if (g.xml.includes("jabber:iq:register") && g.xml.includes("<remove/>")) continue;
    // XEP-0191 §3.3: once a JID is blocked, nothing from it is delivered, the reply to a request
    // sent to it before the block included. So a block waits for what is owed, and is itself
    // answered before anything else goes out.
    const blocking = g.xml.includes("<block xmlns='urn:xmpp:blocking'");
    if (blocking && !garbled) await c.until(answered, REPLY_WAIT);
    let bytes: Buffer = Buffer.from(g.xml);
    if (i === garbleAt) {
      bytes = mutate(rng, bytes, Buffer.from(randomStanza(rng, "x").xml), 2).bytes;
    } else if (g.expectReply !== undefined && !garbled) {
      owed.set(g.expectReply, g.xml);
      res.iqRequests++;
    }
    res.sent.push(bytes.toString("latin1"));
    c.send(bytes);
    res.stanzas++;
    if (blocking && !garbled) await c.until(answered, REPLY_WAIT);
    if (i % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  if (garbled) {
    // Whatever the garbage left open, this ends it or is taken into it.
    const refused = parserVerdict(Buffer.from(res.sent.join(""), "latin1"), true);
    if (refused !== null) {
      await c.until(() => c.streamError !== null, REPLY_WAIT);
      if (c.streamError === null) {
        res.problem = `the parser refuses this input (${refused}), the server sent no stream error`;
      }
    }
  } else {
    const fin = `fin-${seed.toString(36)}`;
    c.send(`<iq type='get' id='${fin}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    owed.set(fin, "(the final ping)");
    await c.until(answered, REPLY_WAIT);
    if (c.streamError === null) {
      const missing = [...owed].filter(([id]) => !c.replies.has(id));
      if (missing.length > 0) {
        res.problem = `no reply to ${missing.length} IQ(s), e.g. ${missing[0]![1].slice(0, 1500)}`;
      } else if (c.closed) res.problem = "the server closed the stream without a stream error";
    }
  }
  res.streamError = c.streamError;
  if (c.badOutput !== null) res.problem ??= c.badOutput;
  if (c.closed && c.streamError === null && res.problem === null && !garbled) {
    res.problem = "the server closed the stream without a stream error";
  }
  await c.close();
  return res;
}

/** A connection that sends a mutated stream opening, before any authentication. */
async function preauthConnection(t: TestServer, seed: number): Promise<ConnResult> {
  const rng = new Rng(seed);
  const opening = Buffer.from(rng.pick(STREAM_OPENINGS));
  const bytes = rng.chance(0.8)
    ? mutate(rng, opening, Buffer.from(randomStanza(rng, "p").xml)).bytes
    : opening;
  const res: ConnResult = {
    sent: [bytes.toString("latin1")],
    stanzas: 0,
    iqRequests: 0,
    streamError: null,
    problem: null,
  };
  const c = await FuzzConn.bare(t.port);
  c.send(bytes);
  // The same bytes fed to a fresh parser: if it refuses them, so must the server.
  const refused = parserVerdict(bytes, false);
  if (refused !== null) {
    await c.until(() => c.streamError !== null, REPLY_WAIT);
    if (c.streamError === null)
      res.problem = `the parser refuses this (${refused}), the server sent no stream error`;
  }
  res.streamError = c.streamError;
  if (c.badOutput !== null) res.problem ??= c.badOutput;
  await c.close();
  return res;
}

/** A fresh client logs in and gets a message through: the server is still up and serving. */
export async function checkAlive(t: TestServer, round: number): Promise<string | null> {
  const a = await t.client("alive-a");
  const b = await t.client("alive-b", { resource: "r" });
  try {
    const body = `alive ${round}`;
    const got = b.next((el) => el.is("message") && el.getChildText("body") === body);
    await a.send(
      xml("message", { to: "alive-b@localhost/r", type: "chat" }, xml("body", {}, body)),
    );
    await got;
    return null;
  } catch (e) {
    return `a fresh client could not exchange a message: ${String(e)}`;
  } finally {
    await a.stop();
    await b.stop();
  }
}

/**
 * Runs connections of the run seeded `runSeed` until `stanzas` stanzas have been sent, `parallel`
 * (at most one per fuzz user) at a time; connection i has seed inputSeed(runSeed, i).
 */
export async function runServerFuzz(
  t: TestServer,
  opts: {
    runSeed: number;
    stanzas: number;
    parallel: number;
    failDir: string;
    checkFaults: () => string[];
    progress?: (s: ServerRunSummary) => void;
  },
): Promise<ServerRunSummary> {
  const sum: ServerRunSummary = {
    connections: 0,
    stanzas: 0,
    iqRequests: 0,
    streamErrors: {},
    failures: [],
  };
  let index = 0;
  const parallel = Math.min(opts.parallel, FUZZ_USERS.length);
  for (let round = 0; sum.stanzas < opts.stanzas && sum.failures.length < 20; round++) {
    const batch: Promise<void>[] = [];
    for (let k = 0; k < parallel; k++) {
      const seed = inputSeed(opts.runSeed, index++);
      const run = new Rng(seed ^ 0x1234).chance(0.15)
        ? preauthConnection(t, seed)
        : stanzaConnection(t, seed, FUZZ_USERS[k]!, new Rng(seed ^ 0x4321).range(20, 200));
      batch.push(
        run.then(
          (r) => {
            sum.connections++;
            sum.stanzas += r.stanzas;
            sum.iqRequests += r.iqRequests;
            const e = r.streamError ?? "none";
            sum.streamErrors[e] = (sum.streamErrors[e] ?? 0) + 1;
            if (r.problem !== null) sum.failures.push(save(opts.failDir, seed, r.problem, r.sent));
          },
          (e: unknown) => {
            sum.failures.push(save(opts.failDir, seed, `the connection failed: ${String(e)}`, []));
          },
        ),
      );
    }
    await Promise.all(batch);
    const dead = await checkAlive(t, round);
    if (dead !== null) sum.failures.push(save(opts.failDir, `round-${round}`, dead, []));
    for (const f of opts.checkFaults())
      sum.failures.push(save(opts.failDir, `round-${round}`, f, []));
    opts.progress?.(sum);
  }
  return sum;
}

function save(dir: string, seed: number | string, what: string, sent: string[]): ServerFailure {
  const saved = `${dir}/server-fuzz-${seed}.txt`;
  writeFileSync(saved, `seed ${seed}\n${what}\n--- sent ---\n${sent.join("\n")}\n`, "latin1");
  return { seed, what, saved };
}
