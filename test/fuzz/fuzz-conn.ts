// One raw client connection of the server-level fuzzer: it logs in with test/helpers/raw.ts,
// then reads what the server sends through Parley's own stream parser, matches IQ replies to the
// requests by id (RFC 6120 §8.2.3), answers IQs addressed to it (so that requests the server
// forwards to it, from a MUC room say, get their reply too) and notes a stream error.
import type { Element } from "@xmpp/xml";
import { RawClient } from "../helpers/raw.js";
import { StreamParser } from "../../src/xml/stream-parser.js";
import { esc } from "./xml.js";

const CLIENT_HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

export class FuzzConn {
  /** The condition of the stream error the server sent, if any. */
  streamError: string | null = null;
  /** An error in what the server sent (it must always be well-formed). */
  badOutput: string | null = null;
  readonly replies = new Set<string>();
  received = 0;
  private waiters: (() => void)[] = [];
  private reading: Promise<void>;

  /** `midStream`: the server's stream header was already read (by the login). */
  private constructor(
    readonly raw: RawClient,
    midStream: boolean,
  ) {
    const parser = new StreamParser(
      {
        streamStart: () => undefined,
        stanza: (el) => this.onElement(el),
        streamEnd: () => undefined,
        error: (err) => (this.badOutput ??= `the server sent bad XML: ${err.message}`),
      },
      { maxStanzaSize: 64 * 1024 * 1024 },
    );
    if (midStream) parser.write(Buffer.from(CLIENT_HEADER));
    this.reading = this.read(parser);
  }

  /** Connects without logging in (pre-authentication garbage). */
  static async bare(port: number): Promise<FuzzConn> {
    return new FuzzConn(await RawClient.connect(port), false);
  }

  /** Connects, authenticates and binds `resource`. */
  static async login(
    port: number,
    user: string,
    password: string,
    resource: string,
  ): Promise<FuzzConn> {
    const raw = await RawClient.connect(port);
    await raw.login(user, password, resource);
    return new FuzzConn(raw, true);
  }

  private async read(parser: StreamParser): Promise<void> {
    for (;;) {
      let s: string;
      try {
        s = await this.raw.readUntil(/[^]/, 3_600_000);
      } catch {
        s = this.raw.received; // closed: what came before the close
        if (s !== "") parser.write(Buffer.from(s));
        break;
      }
      parser.write(Buffer.from(s));
      this.wake();
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onElement(el: Element): void {
    this.received++;
    if (el.name === "stream:error") {
      const cond = el.children.find(
        (c): c is Element => typeof c !== "string" && c.name !== "text",
      );
      this.streamError ??= cond?.name ?? "(no condition)";
      return;
    }
    if (el.name !== "iq") return;
    const { id, type, from } = el.attrs;
    if ((type === "result" || type === "error") && id !== undefined) this.replies.add(id);
    if ((type === "get" || type === "set") && id !== undefined) {
      // RFC 6120 §8.2.3: every request gets a reply; ours says there is nothing here.
      const to = from === undefined ? "" : ` to='${esc(from)}'`;
      this.send(
        `<iq type='error' id='${esc(id)}'${to}><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
      );
    }
  }

  get closed(): boolean {
    return this.raw.closed;
  }

  send(data: string | Buffer): void {
    if (!this.raw.closed) this.raw.send(data);
  }

  /** Waits until `done()` holds or the connection is closed; false after `ms` without either. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    // The last bytes before a close (a stream error) are read after the close is seen.
    if (this.closed) await this.reading;
    return true;
  }

  /** Closes the stream and the socket, and waits until the reading stopped. */
  async close(): Promise<void> {
    this.send("</stream:stream>");
    this.raw.end();
    await this.raw.closedPromise;
    await this.reading;
  }
}
