import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

/**
 * A bare socket that speaks XMPP by hand, for sending what no well-behaved client library would
 * send (bad XML, oversize stanzas, stanzas out of order).
 */
export class RawClient {
  private buf = "";
  /** Everything readUntil() has returned so far. */
  consumed = "";
  /** Reads the socket delivered (each a wake-up of a sleeping client) and their bytes. */
  reads = 0;
  bytesRead = 0;
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  /** Set for a server-to-server stream (jabber:server, XEP-0220's db prefix) from this domain. */
  serverFrom: string | null = null;

  private constructor(private socket: Socket | TLSSocket) {
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.listen(socket);
  }

  /** `noDelay`: each send() goes out at once, not held by Nagle for the last one's ACK. */
  static async connect(
    port: number,
    opts: { noDelay?: boolean; serverFrom?: string } = {},
  ): Promise<RawClient> {
    const socket = tcpConnect({ port, host: "127.0.0.1", noDelay: opts.noDelay ?? false });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const raw = new RawClient(socket);
    raw.serverFrom = opts.serverFrom ?? null;
    return raw;
  }

  private listen(socket: Socket): void {
    socket.on("data", (d: Buffer) => {
      this.reads++;
      this.bytesRead += d.length;
      this.buf += d.toString("utf8");
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.resolveClosed();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The TLS layer once STARTTLS is done (for channel binding in tests). */
  get tls(): TLSSocket | null {
    return "exportKeyingMaterial" in this.socket ? this.socket : null;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received so far. */
  get received(): string {
    return this.buf;
  }

  /** Waits until the received text matches, and returns (and consumes) all of it. */
  async readUntil(pattern: RegExp | string, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    const matches = (): boolean =>
      typeof pattern === "string" ? this.buf.includes(pattern) : pattern.test(this.buf);
    while (!matches()) {
      if (this.closed)
        throw new Error(`connection closed before ${String(pattern)}; got: ${this.buf}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(pattern)}; got: ${this.buf}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const out = this.buf;
    this.buf = "";
    this.consumed += out;
    return out;
  }

  header(to = "localhost"): void {
    if (this.serverFrom !== null) {
      this.send(
        `<?xml version='1.0'?><stream:stream from='${this.serverFrom}' to='${to}' version='1.0' xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams'>`,
      );
      return;
    }
    this.send(
      `<?xml version='1.0'?><stream:stream to='${to}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
    );
  }

  /** Opens the stream and upgrades it with STARTTLS (RFC 6120 §5); returns the new features. */
  async starttls(
    restartTo = "localhost",
    clientCert?: { key: string; cert: string },
  ): Promise<string> {
    // A client stream opens to localhost (a test changes the domain at the restart); a server
    // stream to the domain it means.
    this.header(this.serverFrom !== null ? restartTo : "localhost");
    await this.readUntil("</stream:features>");
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.readUntil("<proceed");
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    const tls = tlsConnect({
      socket: raw,
      servername: restartTo,
      rejectUnauthorized: false,
      ...clientCert,
    });
    await new Promise<void>((resolve, reject) => {
      tls.once("secureConnect", resolve);
      tls.once("error", reject);
    });
    this.socket = tls;
    this.listen(tls);
    this.header(restartTo);
    return this.readUntil("</stream:features>");
  }

  /** STARTTLS and SASL PLAIN, up to the post-authentication features (returned). */
  async authenticate(user: string, password: string): Promise<string> {
    await this.starttls();
    const creds = Buffer.from(`\0${user}\0${password}`).toString("base64");
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`);
    await this.readUntil("<success");
    this.header();
    return this.readUntil("</stream:features>");
  }

  /** STARTTLS, SASL PLAIN and resource binding: a session ready for stanzas. */
  async login(user: string, password: string, resource = "raw"): Promise<void> {
    await this.authenticate(user, password);
    this.send(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    await this.readUntil("</iq>");
  }

  /** Stops reading: the server's writes pile up (a peer that does not read). */
  stopReading(): void {
    this.socket.pause();
  }

  /** Reads again after stopReading(). */
  resumeReading(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.destroy();
  }
}
