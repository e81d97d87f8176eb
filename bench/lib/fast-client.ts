// The load generator's SASL2 client (XEP-0388) with Bind2 (XEP-0386) and FAST (XEP-0484), for
// the fast scenario (fast.ts): a login as Conversations or Monal makes it once it has a token —
// TCP, STARTTLS, one <authenticate/> with HT-SHA-256-NONE and the Bind2 request, <success/> and
// the features, initial presence — and, to compare, the same with SCRAM-SHA-1 in place of the
// token (one more round trip, and the client-side PBKDF2 that SaltedPasswordCache keeps).
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { performance } from "node:perf_hooks";
import { pool } from "./pacing.js";
import type { ErrorCounts } from "./protocol.js";
import { ScramClient, type SaltedPasswordCache } from "./scram.js";
import {
  TcpConn,
  XmppError,
  challengeText,
  childText,
  condition,
  countError,
  tcpStart,
} from "./xmpp.js";

const NS_SASL2 = "urn:xmpp:sasl:2";
const NS_FAST = "urn:xmpp:fast:0";
const MECHANISM = "HT-SHA-256-NONE";
const LOGIN_TIMEOUT_MS = 30_000;

export interface FastEnv {
  port: number;
  domain: string;
  cache: SaltedPasswordCache;
  passwordOf(user: string): string;
}

/** A client installation per user: its user-agent id and, once it has one, its token. */
interface Installation {
  agentId: string;
  token: string | null;
}
const installations = new Map<string, Installation>();

function installation(user: string): Installation {
  let i = installations.get(user);
  if (!i) {
    i = { agentId: randomUUID(), token: null };
    installations.set(user, i);
  }
  return i;
}

/** draft-schmaus-kitten-sasl-ht: HMAC-SHA-256 keyed with the token, no channel binding. */
function htHash(token: string, label: string): Buffer {
  return createHmac("sha256", Buffer.from(token, "utf8")).update(label).digest();
}

/**
 * One login over SASL2 with Bind2, with the user's token (`fast`) or SCRAM-SHA-1 (asking for a
 * token with `requestToken`); resolves once the features after <success/> arrived and initial
 * presence is written. A token in <success/> (issued or rotated) replaces the user's.
 */
export async function sasl2Login(
  env: FastEnv,
  user: string,
  mode: "fast" | "scram",
  requestToken = false,
): Promise<{ conn: TcpConn; loginMs: number }> {
  const t0 = performance.now();
  const deadline = t0 + LOGIN_TIMEOUT_MS;
  const left = () => Math.max(1, deadline - performance.now());
  const conn = await TcpConn.open(env.port, LOGIN_TIMEOUT_MS);
  const inst = installation(user);
  try {
    const features = await tcpStart(conn, env.domain).open(left);
    if (!features.raw.includes(NS_SASL2)) throw new XmppError("server offers no SASL2", "sasl2");
    const agent = `<user-agent id='${inst.agentId}'><software>parley-bench</software></user-agent>`;
    const bind = `<bind xmlns='urn:xmpp:bind:0'><tag>bench</tag></bind>`;
    let scram: ScramClient | null = null;
    if (mode === "fast") {
      if (
        !new RegExp(`<fast xmlns=['"]${NS_FAST}['"][^>]*>.*?${MECHANISM}`, "s").test(features.raw)
      ) {
        throw new XmppError(`server offers no FAST ${MECHANISM}`, "fast");
      }
      if (!inst.token) throw new XmppError("no token", "fast");
      const first = Buffer.concat([Buffer.from(`${user}\0`), htHash(inst.token, "Initiator")]);
      conn.write(
        `<authenticate xmlns='${NS_SASL2}' mechanism='${MECHANISM}'><initial-response>` +
          `${first.toString("base64")}</initial-response>${agent}<fast xmlns='${NS_FAST}'/>${bind}</authenticate>`,
      );
    } else {
      scram = new ScramClient(user, env.passwordOf(user), env.cache);
      const request = requestToken
        ? `<request-token xmlns='${NS_FAST}' mechanism='${MECHANISM}'/>`
        : "";
      conn.write(
        `<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-1'><initial-response>` +
          `${scram.first()}</initial-response>${agent}${bind}${request}</authenticate>`,
      );
      const challenge = await conn.next(left(), "sasl2");
      if (challenge.name !== "challenge") {
        throw new XmppError(`SASL2: ${challenge.name} ${condition(challenge)}`, "sasl2");
      }
      const final = await scram.final(challengeText(challenge));
      conn.write(`<response xmlns='${NS_SASL2}'>${final}</response>`);
    }
    const success = await conn.next(left(), "sasl2");
    if (success.name !== "success") {
      throw new XmppError(`SASL2: ${success.name} ${condition(success)}`, "sasl2");
    }
    const data = childText(success, "additional-data") ?? "";
    if (scram) scram.verify(data);
    else if (!matches(Buffer.from(data, "base64"), htHash(inst.token!, "Responder"))) {
      throw new XmppError("wrong Responder hash", "fast");
    }
    conn.jid = childText(success, "authorization-identifier") ?? "";
    const token = /<token [^>]*token=['"]([^'"]+)['"]/.exec(success.raw)?.[1];
    if (token) inst.token = token;
    await conn.expect("stream:features", left(), "features");
    const loginMs = performance.now() - t0;
    conn.write("<presence/>");
    return { conn, loginMs };
  } catch (err) {
    conn.destroy();
    throw err instanceof XmppError ? err : new XmppError(String(err), "login");
  }
}

/** Each user logs in once with its password and asks for a token (before the timed loop). */
export async function fastTokens(
  env: FastEnv,
  users: string[],
  concurrency: number,
): Promise<{ ok: number; failed: number; errors: ErrorCounts }> {
  const r = { ok: 0, failed: 0, errors: {} as ErrorCounts };
  await pool(users, concurrency, async (user) => {
    try {
      const { conn } = await sasl2Login(env, user, "scram", true);
      await conn.close();
      if (installation(user).token) r.ok++;
      else throw new XmppError("no token in <success/>", "fast");
    } catch (err) {
      r.failed++;
      countError(r.errors, err);
    }
  });
  return r;
}

function matches(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
