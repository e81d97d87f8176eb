// A lean XMPP client connection for the load generator: raw node:net / node:tls sockets, no DOM,
// no XML library. The server's stream is cut into top-level elements by a small splitter that
// knows just enough XML for what servers send (elements nested in one of the same name are
// counted, as in a MAM result: a message forwarding a message; no CDATA, no comments); stanzas
// the generator sends are pre-serialized strings.
//
// Every connection goes to LOOPBACK. There is deliberately no way to give another address.
import net from "node:net";
import tls from "node:tls";
import { ScramClient, type SaltedPasswordCache } from "./scram.js";

/** The only address the load generator ever connects to. */
export const LOOPBACK = "127.0.0.1";

export interface El {
  /** Qualified name as written, e.g. "message", "stream:features". */
  name: string;
  /** The whole element as text (for a stream header: the start tag alone). */
  raw: string;
  /** Index of the end of the start tag in raw (exclusive). */
  startEnd: number;
}

/** The value of attribute `name` in the start tag of `el`, either quote style. */
export function attr(el: El, name: string): string | undefined {
  const tag = el.raw.slice(0, el.startEnd);
  let i = tag.indexOf(` ${name}=`);
  while (i >= 0) {
    const q = tag[i + name.length + 2];
    if (q === "'" || q === '"') {
      const start = i + name.length + 3;
      const end = tag.indexOf(q, start);
      return end < 0 ? undefined : tag.slice(start, end);
    }
    i = tag.indexOf(` ${name}=`, i + 1);
  }
  return undefined;
}

/** Text content of the first <child>…</child> inside el (no entity decoding). */
export function childText(el: El, child: string): string | undefined {
  const open = el.raw.indexOf(`<${child}`, el.startEnd);
  if (open < 0) return undefined;
  const gt = el.raw.indexOf(">", open);
  if (gt < 0) return undefined;
  if (el.raw[gt - 1] === "/") return "";
  const close = el.raw.indexOf(`</${child}>`, gt);
  return close < 0 ? undefined : el.raw.slice(gt + 1, close);
}

export class XmppError extends Error {
  constructor(
    message: string,
    readonly stage: string,
  ) {
    super(message);
    this.name = "XmppError";
  }
}

/** Counts an error in `errors` under its XmppError stage and message (or its message). */
export function countError(errors: Record<string, number>, err: unknown): void {
  const key =
    err instanceof XmppError ? `${err.stage}: ${err.message}` : String((err as Error)?.message);
  errors[key] = (errors[key] ?? 0) + 1;
}

/** The first condition element inside a <failure/> or <error/>, e.g. "not-authorized". */
export function condition(el: El): string {
  const inner = el.raw.slice(el.startEnd);
  const m = /<(?:[\w-]+:)?error[^>]*>\s*<([a-z-]+)/.exec(inner) ?? /<([a-z-]+)[\s/>]/.exec(inner);
  return m?.[1] ?? "unknown";
}

/**
 * Where the element `name` whose start tag ends at `from` closes (the index of its `</name>`),
 * or -1 while that is not in `buf` yet. Elements of the same name inside it are skipped: a
 * XEP-0313 result is a <message/> that forwards a <message/> (XEP-0297).
 */
function closingTag(buf: string, name: string, from: number): number {
  const opener = `<${name}`;
  const closer = `</${name}>`;
  let depth = 0;
  let at = from;
  let open = buf.indexOf(opener, from);
  for (;;) {
    const close = buf.indexOf(closer, at);
    if (close < 0) return -1;
    for (; open >= 0 && open < close; open = buf.indexOf(opener, open + 1)) {
      const c = buf.charCodeAt(open + opener.length);
      // Not a longer name (<messages>), and not an empty element (<message/>).
      const named = c === 32 || c === 9 || c === 10 || c === 13 || c === 62;
      if (named && buf.charCodeAt(buf.indexOf(">", open) - 1) !== 47) depth++;
    }
    if (depth === 0) return close;
    depth--;
    at = close + closer.length;
  }
}

type Waiter = {
  resolve: (el: El) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
};

/**
 * One XMPP stream of the generator: the server's elements cut out of what arrives, queued for
 * next()/expect() or taken by onElement. The transport is the subclass's: TCP (+TLS) here,
 * WebSocket in ws-conn.ts.
 */
export abstract class Conn {
  protected buf = "";
  private queue: El[] = [];
  private waiter: Waiter | null = null;
  private closeWaiters: (() => void)[] = [];
  /** After login: elements go here first; those it returns false for go on to the queue. */
  onElement: ((el: El) => boolean) | null = null;
  /** Called once when the connection has closed, whoever closed it. */
  onClosed: (() => void) | null = null;
  closed = false;
  /** The server closed its stream (</stream:stream>, or <close/> over WebSocket). */
  streamClosed = false;
  error: Error | null = null;
  jid = "";

  /** Writes one or more stanzas (or a stream header). */
  abstract write(s: string): void;
  /** Bytes written but not yet taken by the kernel: backpressure. */
  abstract get backlog(): number;
  /** Closes the stream as a client does, resolved once the connection is closed. */
  abstract close(timeoutMs?: number): Promise<void>;
  abstract destroy(): void;

  /** Writes several stanzas at once; a transport that frames each (WebSocket) sends them apart. */
  writeAll(stanzas: string[]): void {
    this.write(stanzas.join(""));
  }

  /** The connection is gone: waiters fail, close() resolves. */
  protected ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(this.error ?? new XmppError("connection closed", "read"));
    for (const w of this.closeWaiters.splice(0)) w();
    this.onClosed?.();
  }

  /** Resolves when the connection has closed (after ended()); destroys it after timeoutMs. */
  protected closedWithin(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.destroy(), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private fail(err: Error): void {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** Text from the server, cut into top-level elements. */
  protected feed(text: string): void {
    this.buf = this.buf.length === 0 ? text : this.buf + text;
    let p = 0;
    const buf = this.buf;
    for (;;) {
      const lt = buf.indexOf("<", p);
      if (lt < 0) {
        p = buf.length;
        break;
      }
      const gt = buf.indexOf(">", lt);
      if (gt < 0) {
        p = lt;
        break;
      }
      const c = buf.charCodeAt(lt + 1);
      if (c === 63 /* ? */) {
        p = gt + 1; // <?xml ...?>
        continue;
      }
      if (c === 47 /* / */) {
        // A closing tag at top level: only </stream:stream> can be one.
        p = gt + 1;
        this.streamClosed = true;
        continue;
      }
      let ne = lt + 1;
      while (ne < gt) {
        const ch = buf.charCodeAt(ne);
        if (ch === 32 || ch === 9 || ch === 10 || ch === 13 || ch === 47 || ch === 62) break;
        ne++;
      }
      const name = buf.slice(lt + 1, ne);
      let end: number;
      if (name === "stream:stream" || buf.charCodeAt(gt - 1) === 47 /* / */) {
        end = gt + 1; // stream header, or an empty element
      } else {
        const close = closingTag(buf, name, gt);
        if (close < 0) {
          p = lt;
          break;
        }
        end = close + name.length + 3;
      }
      this.deliver({ name, raw: buf.slice(lt, end), startEnd: gt + 1 - lt });
      p = end;
    }
    this.buf = p >= buf.length ? "" : buf.slice(p);
    if (this.buf.length > 4 * 1024 * 1024) {
      this.error = new XmppError("unparsable input from the server", "read");
      this.destroy();
    }
  }

  private deliver(el: El): void {
    if (this.onElement?.(el)) return;
    if (el.name === "stream:error") {
      this.error = new XmppError(`stream error: ${condition(el)}`, "stream");
    }
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve(el);
    } else this.queue.push(el);
  }

  /** The next top-level element (stream headers included). */
  next(timeoutMs: number, stage: string): Promise<El> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) {
      return Promise.reject(this.error ?? new XmppError("connection closed", stage));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new XmppError(`timed out (${timeoutMs} ms)`, stage));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** The next element named `name`, skipping others (presence, stream headers...). */
  async expect(name: string, timeoutMs: number, stage: string): Promise<El> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const el = await this.next(Math.max(1, deadline - Date.now()), stage);
      if (el.name === name) return el;
      if (el.name === "stream:error") throw new XmppError(`stream error: ${condition(el)}`, stage);
    }
  }

  /** The iq answering ours (by id). */
  async iqResult(id: string, timeoutMs: number, stage: string): Promise<El> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const el = await this.expect("iq", Math.max(1, deadline - Date.now()), stage);
      if (attr(el, "id") === id) return el;
    }
  }
}

/** A stream over TCP, upgraded with STARTTLS. */
export class TcpConn extends Conn {
  private constructor(private sock: net.Socket | tls.TLSSocket) {
    super();
    this.attach(sock);
  }

  static open(port: number, timeoutMs: number, host = LOOPBACK): Promise<TcpConn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new XmppError("TCP connect timed out", "connect"));
      }, timeoutMs);
      sock.once("error", (err) => {
        clearTimeout(timer);
        reject(new XmppError(err.message, "connect"));
      });
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        resolve(new TcpConn(sock));
      });
    });
  }

  private attach(sock: net.Socket | tls.TLSSocket): void {
    sock.on("data", (chunk: Buffer) => this.feed(chunk.toString("latin1")));
    sock.on("error", (err) => {
      this.error ??= err;
    });
    sock.on("close", () => {
      if (sock === this.sock) this.ended();
    });
  }

  write(s: string): void {
    if (!this.closed) this.sock.write(s);
  }

  get backlog(): number {
    return this.sock.writableLength;
  }

  /** Upgrades to TLS after <proceed/> (the queue must be empty: RFC 6120 §5.4.3.3). */
  startTls(servername: string, timeoutMs: number): Promise<void> {
    const plain = this.sock as net.Socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    this.buf = "";
    return new Promise((resolve, reject) => {
      const secure = tls.connect({
        socket: plain,
        servername,
        rejectUnauthorized: false, // the run's self-signed certificate
      });
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new XmppError("TLS handshake timed out", "tls"));
      }, timeoutMs);
      secure.once("error", (err) => {
        clearTimeout(timer);
        reject(new XmppError(err.message, "tls"));
      });
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        secure.removeAllListeners("error");
        this.sock = secure;
        this.attach(secure);
        resolve();
      });
    });
  }

  /** </stream:stream>, wait for the server's, then FIN. */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = this.closedWithin(timeoutMs);
    this.onElement = () => true;
    this.sock.end("</stream:stream>");
    return closed;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

export interface LoginOptions {
  /** The server's address: LOOPBACK unless said (federation runs give each server its own). */
  host?: string;
  port: number;
  domain: string;
  user: string;
  password: string;
  resource: string;
  cache: SaltedPasswordCache;
  timeoutMs: number;
  /** Register the account in-band first (XEP-0077), on the same stream before SASL. */
  register?: boolean;
  /** Stop after SASL success (no bind): to create accounts and warm the SCRAM cache. */
  authOnly?: boolean;
  /** Send initial presence after bind. */
  presence?: boolean;
  /** Then wait for a ping round trip, so the server has handled everything sent before. */
  ping?: boolean;
}

export interface LoginResult {
  conn: Conn;
  /** ms from TCP connect to the bind result (or SASL success with authOnly). */
  loginMs: number;
  /** The account existed already (with register). */
  existed: boolean;
}

const STREAM_HEADER = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xml:lang='en' ` +
  `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** How a transport opens an XMPP stream: the parts of a login that are its own. */
export interface StreamStart {
  /** Opens the stream, made secure if the transport does that in-band: its first features. */
  open(left: () => number): Promise<El>;
  /** Restarts the stream after SASL success (RFC 6120 §6.4.6): its header, or <open/>. */
  restart(): void;
}

/**
 * A full client login: TCP, STARTTLS, SCRAM-SHA-1, bind, optionally presence. Rejects with an
 * XmppError naming the stage that failed; the socket is then destroyed.
 */
export async function login(o: LoginOptions): Promise<LoginResult> {
  const t0 = performance.now();
  const conn = await TcpConn.open(o.port, o.timeoutMs, o.host);
  return loginOn(conn, o, t0, tcpStart(conn, o.domain));
}

/** How a TCP connection opens its stream: header, STARTTLS (RFC 6120 §5), header again. */
export function tcpStart(conn: TcpConn, domain: string): StreamStart {
  const header = STREAM_HEADER(domain);
  return {
    async open(left) {
      conn.write(header);
      const features = await conn.expect("stream:features", left(), "features");
      if (!features.raw.includes("urn:ietf:params:xml:ns:xmpp-tls")) {
        throw new XmppError("server offers no STARTTLS", "starttls");
      }
      conn.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      const proceed = await conn.next(left(), "starttls");
      if (proceed.name !== "proceed") throw new XmppError(`STARTTLS: ${proceed.name}`, "starttls");
      await conn.startTls(domain, left());
      conn.write(header);
      return conn.expect("stream:features", left(), "features");
    },
    restart: () => conn.write(header),
  };
}

/**
 * The rest of a login on a connection `start` opens a stream on: in-band registration if asked,
 * SCRAM-SHA-1, bind, session where required, presence and ping if asked. On any failure the
 * connection is destroyed and the error names the stage.
 */
export async function loginOn(
  conn: Conn,
  o: LoginOptions,
  t0: number,
  start: StreamStart,
): Promise<LoginResult> {
  try {
    const deadline = t0 + o.timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    let features = await start.open(left);
    let existed = false;
    if (o.register) {
      conn.write(
        `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${o.user}</username>` +
          `<password>${o.password}</password></query></iq>`,
      );
      const res = await conn.iqResult("reg1", left(), "register");
      if (attr(res, "type") === "error") {
        const why = condition(res);
        if (why !== "conflict") throw new XmppError(`registration refused: ${why}`, "register");
        existed = true;
      }
    }

    if (!features.raw.includes(">SCRAM-SHA-1<")) {
      throw new XmppError("server offers no SCRAM-SHA-1", "sasl");
    }
    const scram = new ScramClient(o.user, o.password, o.cache);
    conn.write(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${scram.first()}</auth>`,
    );
    const challenge = await conn.next(left(), "sasl");
    if (challenge.name !== "challenge") {
      throw new XmppError(`SASL: ${challenge.name} ${condition(challenge)}`, "sasl");
    }
    const final = await scram.final(challengeText(challenge));
    conn.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${final}</response>`);
    const success = await conn.next(left(), "sasl");
    if (success.name !== "success") {
      throw new XmppError(`SASL: ${success.name} ${condition(success)}`, "sasl");
    }
    scram.verify(challengeText(success));
    if (o.authOnly) return { conn, loginMs: performance.now() - t0, existed };

    start.restart();
    features = await conn.expect("stream:features", left(), "features");
    conn.write(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>${o.resource}</resource></bind></iq>`,
    );
    const bound = await conn.iqResult("bind1", left(), "bind");
    if (attr(bound, "type") !== "result") {
      throw new XmppError(`bind refused: ${condition(bound)}`, "bind");
    }
    conn.jid = childText(bound, "jid") ?? "";
    // RFC 3921's session request, only where a server still requires it.
    const session = /<session xmlns=['"]urn:ietf:params:xml:ns:xmpp-session['"]\s*(\/>|>)/.exec(
      features.raw,
    );
    if (session && session[1] === ">" && !/<session[^>]*>\s*<optional\/>/.test(features.raw)) {
      conn.write(
        `<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`,
      );
      await conn.iqResult("sess1", left(), "session");
    }
    const loginMs = performance.now() - t0;
    if (o.presence) conn.write("<presence/>");
    if (o.ping) await ping(conn, o.domain, left());
    return { conn, loginMs, existed };
  } catch (err) {
    conn.destroy();
    throw err instanceof XmppError ? err : new XmppError(String(err), "login");
  }
}

let pingCounter = 0;

/** An XEP-0199 ping to the server, answered after everything sent before it was handled. */
export async function ping(conn: Conn, domain: string, timeoutMs: number): Promise<void> {
  const id = `ping${++pingCounter}`;
  conn.write(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await conn.iqResult(id, timeoutMs, "ping");
}

/** The text of a SASL <challenge/> or <success/>. */
export function challengeText(el: El): string {
  if (el.raw.endsWith("/>") && el.startEnd === el.raw.length) return "";
  const close = el.raw.lastIndexOf("</");
  return el.raw.slice(el.startEnd, close).trim();
}
