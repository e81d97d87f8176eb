// The load generator's XMPP over BOSH (XEP-0124, XEP-0206), for the bosh scenario: the same
// Conn as over TCP (its splitter, queue and login steps), carried by HTTP POSTs of <body/>
// wrappers. It behaves as a web client such as Converse.js (Strophe) does with hold=1: one
// request is always held by the server for new data; a stanza to send goes in a second request,
// which makes the server answer the held one (§8), and whenever no request is left a new empty
// one is sent at once. To loopback only, as the other clients: plain http://, or https:// for
// the bosh-tls scenario, the server's self-signed certificate taken unverified.
import http from "node:http";
import https from "node:https";
import { qualified, type WsEndpoint } from "./ws-conn.js";
import { Conn, LOOPBACK, loginOn, XmppError, type LoginOptions, type LoginResult } from "./xmpp.js";

const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
const NS_XBOSH = "urn:xmpp:xbosh";
/** The wait asked for: the server holds an idle session's request up to a minute (§7.1). */
const WAIT_S = 60;

/**
 * Where a server takes BOSH requests: its HTTP port and the path of its handler, and whether
 * the listener is HTTPS (`tls`).
 */
export type BoshEndpoint = WsEndpoint & { tls?: boolean };

/**
 * One keep-alive connection pool per worker and scheme, as a browser's: a session's next request
 * reuses a connection its last one freed, so an idle session keeps one connection (its held
 * request), over https:// one TLS connection.
 */
const pool = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 };
const agents = {
  http: new http.Agent(pool),
  // Loopback only, against the bench's self-signed certificate: not verified.
  https: new https.Agent({ ...pool, rejectUnauthorized: false }),
};

/** The value of attribute `name` in a start tag, either quote style. */
function tagAttr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(tag);
  return m?.[2];
}

export class BoshConn extends Conn {
  private sid = "";
  /** §14.1: random start, one more per request. */
  private rid = Math.floor(Math.random() * 2 ** 32) + 1;
  /** Requests the server may hold at once (`requests`, §7.2): hold + 1. */
  private requests = 2;
  private readonly inFlight = new Set<http.ClientRequest>();
  private outbox: string[] = [];
  private outboxBytes = 0;
  /** A stream restart waits to be sent (XEP-0206 §6). */
  private restarting = false;
  private terminating = false;
  private pumpQueued = false;

  private constructor(
    private readonly at: BoshEndpoint,
    private readonly domain: string,
  ) {
    super();
  }

  /**
   * §7.1: the session creation request; resolves once it is answered (the answer's payloads,
   * usually the stream features, are queued as any others).
   */
  static async open(at: BoshEndpoint, domain: string, timeoutMs: number): Promise<BoshConn> {
    const c = new BoshConn(at, domain);
    const attrs =
      `content='text/xml; charset=utf-8' hold='1' rid='${c.rid++}' to='${domain}' ver='1.11' ` +
      `wait='${WAIT_S}' xml:lang='en' xmpp:version='1.0' xmlns:xmpp='${NS_XBOSH}'`;
    await new Promise<void>((resolve, reject) => {
      c.post(`<body ${attrs} xmlns='${NS_HTTPBIND}'/>`, timeoutMs, (err, tag) => {
        if (err) return reject(err);
        c.sid = tagAttr(tag, "sid") ?? "";
        if (!c.sid) return reject(new XmppError("no sid in the creation answer", "connect"));
        c.requests = Number(tagAttr(tag, "requests") ?? 2) || 2;
        c.pumpSoon();
        resolve();
      });
    });
    return c;
  }

  write(s: string): void {
    if (this.closed || this.terminating) return;
    const q = qualified(s);
    this.outbox.push(q);
    this.outboxBytes += q.length;
    this.pumpSoon();
  }

  /** XEP-0206 §6: the client restarts the stream after SASL success with an empty request. */
  restart(): void {
    this.restarting = true;
    this.pumpSoon();
  }

  get backlog(): number {
    return this.outboxBytes;
  }

  /** §13: a terminate request with unavailable presence; closed once it is answered. */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = this.closedWithin(timeoutMs);
    if (!this.terminating) {
      this.terminating = true;
      this.onElement = () => true;
      const payload = this.outbox.join("") + "<presence type='unavailable' xmlns='jabber:client'/>";
      this.outbox = [];
      this.outboxBytes = 0;
      this.post(this.wrap(payload, "type='terminate'"), timeoutMs, () => this.gone());
    }
    return closed;
  }

  destroy(): void {
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    this.gone();
  }

  private gone(): void {
    if (this.closed) return;
    this.streamClosed = true;
    this.ended();
  }

  private wrap(payload: string, attrs = ""): string {
    const open = `<body rid='${this.rid++}' sid='${this.sid}' xmlns='${NS_HTTPBIND}'${attrs ? ` ${attrs}` : ""}`;
    return payload === "" ? `${open}/>` : `${open}>${payload}</body>`;
  }

  /**
   * Sends at the end of this turn of the event loop: stanzas written in one turn go in one
   * request, and what an answer's payloads make the client write (the next SASL step) goes in
   * the request that replaces it, not after an empty one, as Strophe's idle loop does.
   */
  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Sends what waits while fewer than `requests` requests are out, and keeps one request held
   * by the server at all times, as a web client does.
   */
  private pump(): void {
    if (this.closed || this.terminating || this.sid === "") return;
    if (this.inFlight.size >= this.requests) return;
    if (this.restarting) {
      this.restarting = false;
      const to = `to='${this.domain}' xml:lang='en' xmpp:restart='true' xmlns:xmpp='${NS_XBOSH}'`;
      this.send(this.wrap("", to));
    } else if (this.outbox.length > 0) {
      const payload = this.outbox.join("");
      this.outbox = [];
      this.outboxBytes = 0;
      this.send(this.wrap(payload));
    } else if (this.inFlight.size === 0) {
      this.send(this.wrap(""));
    }
  }

  /** A request of the session: its answer's payloads fed to the splitter, then the next one. */
  private send(body: string): void {
    this.post(body, (WAIT_S + 30) * 1000, (err) => {
      if (err) {
        this.error ??= err;
        return this.destroy();
      }
      this.pumpSoon();
    });
  }

  /**
   * POSTs one body; the answer's payloads go to the splitter. `done` gets the answer's start
   * tag, or the error; a terminate answer (§13, §17) ends the stream.
   */
  private post(body: string, timeoutMs: number, done: (err: Error | null, tag: string) => void) {
    const req = (this.at.tls ? https : http).request(
      {
        host: LOOPBACK,
        port: this.at.port,
        path: this.at.path,
        method: "POST",
        agent: this.at.tls ? agents.https : agents.http,
        headers: {
          "Content-Type": "text/xml; charset=utf-8",
          "Content-Length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (s: string) => (text += s));
        res.on("end", () => {
          this.inFlight.delete(req);
          if (res.statusCode !== 200) {
            return done(new XmppError(`HTTP ${res.statusCode}`, "bosh"), "");
          }
          const gt = text.indexOf(">");
          const tag = gt < 0 ? text : text.slice(0, gt + 1);
          const inner = tag.endsWith("/>") ? "" : text.slice(gt + 1, text.lastIndexOf("</body>"));
          if (inner !== "") this.feed(inner);
          const type = tagAttr(tag, "type");
          if (type === "terminate") {
            // Answered to our terminate request, or the server ended the session.
            const why = tagAttr(tag, "condition") ?? "stream closed";
            const err = this.terminating ? null : new XmppError(`terminated: ${why}`, "bosh");
            this.error ??= err;
            this.gone();
            return done(err, tag);
          }
          if (type === "error") return done(new XmppError("recoverable error", "bosh"), tag);
          done(null, tag);
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new XmppError("HTTP request timed out", "bosh")));
    req.on("error", (err) => {
      this.inFlight.delete(req);
      done(err instanceof XmppError ? err : new XmppError(err.message, "bosh"), "");
    });
    this.inFlight.add(req);
    req.end(body);
  }
}

/** A full client login over BOSH: session creation, SCRAM-SHA-1, restart, bind, as login(). */
export async function boshLogin(at: BoshEndpoint, o: LoginOptions): Promise<LoginResult> {
  const t0 = performance.now();
  let conn: BoshConn;
  try {
    conn = await BoshConn.open(at, o.domain, o.timeoutMs);
  } catch (err) {
    throw err instanceof XmppError ? err : new XmppError(String(err), "connect");
  }
  return loginOn(conn, o, t0, {
    open(left) {
      return conn.expect("stream:features", left(), "features");
    },
    restart: () => conn.restart(),
  });
}
