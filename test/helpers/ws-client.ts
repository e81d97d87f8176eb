import type { TLSSocket } from "node:tls";
import { WebSocket } from "ws";
import { ScramClient } from "./scram-client.js";

export const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

/**
 * A raw XMPP-over-WebSocket client for the tests (RFC 7395): whole text frames in and out, so
 * a test can send what no library would and read exactly what the server framed.
 */
export class RawWs {
  readonly frames: string[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  closeCode = 0;
  /** The TLS socket under a wss:// connection, for channel binding. */
  tls: TLSSocket | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(String(data));
      this.wake();
    });
    ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static connect(url: string, protocols: string[] = ["xmpp"], origin?: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, {
        rejectUnauthorized: false,
        ...(origin ? { origin } : {}),
      });
      let tls: TLSSocket | null = null;
      ws.once(
        "upgrade",
        (res) => (tls = url.startsWith("wss:") ? (res.socket as TLSSocket) : null),
      );
      ws.once("open", () => {
        const raw = new RawWs(ws);
        raw.tls = tls;
        resolve(raw);
      });
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  send(frame: string): void {
    this.ws.send(frame);
  }

  /** Waits for a frame matching `re`, and returns it (frames before it stay read). */
  async until(re: RegExp, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex((f) => re.test(f));
      if (i >= 0) return this.frames.splice(0, i + 1)[i]!;
      if (this.closed) throw new Error(`closed before ${re}; got ${this.frames.join(" | ")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; got ${this.frames.join(" | ")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  /** Resolves once the server closed the WebSocket. */
  async whenClosed(ms = 5000): Promise<number> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("the server did not close the connection");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
    return this.closeCode;
  }

  open(host = "localhost"): void {
    this.send(`<open xmlns='${FRAMING}' to='${host}' version='1.0'/>`);
  }

  /**
   * Opens the stream and logs in with SCRAM-SHA-256 (or -PLUS with tls-exporter when `plus`),
   * up to the restarted stream's features. Returns the SASL outcome frame.
   */
  async login(user: string, password: string, plus?: { data: Buffer }): Promise<string> {
    this.open();
    await this.until(/<\/stream:features>/);
    const scram = new ScramClient(
      "sha256",
      user,
      password,
      plus ? { flag: "p", data: plus.data } : { flag: "n" },
    );
    const mechanism = plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
    this.send(`<auth xmlns='${SASL}' mechanism='${mechanism}'>${scram.first()}</auth>`);
    const challenge = /<challenge[^>]*>([^<]+)</.exec(await this.until(/<challenge/))![1]!;
    this.send(`<response xmlns='${SASL}'>${scram.final(challenge)}</response>`);
    const outcome = await this.until(/<success|<failure/);
    if (!outcome.includes("<success")) return outcome;
    this.open(); // RFC 7395 §3.5: a new <open/> after SASL
    await this.until(/<\/stream:features>/);
    return outcome;
  }

  async bind(): Promise<string> {
    this.send(
      "<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
    );
    return /<jid>([^<]+)<\/jid>/.exec(await this.until(/id=["']b1["']/))![1]!;
  }

  close(): void {
    this.ws.terminate();
  }
}
