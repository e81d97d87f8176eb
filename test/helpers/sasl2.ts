import { createHmac } from "node:crypto";
import { RawClient } from "./raw.js";
import { ScramClient } from "./scram-client.js";

export const SASL2 = "urn:xmpp:sasl:2";
export const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
/** A UUID v4 as XEP-0388 §Initiation asks for in <user-agent id=…/>. */
export const AGENT_ID = "d4565fa7-4d72-4749-b3d3-740edbf87770";

/** The end of the server's answer to an <authenticate/> or <response/>. */
export const OUTCOME = /<\/success>|<\/failure>|<\/challenge>|<challenge[^>]*\/>|<\/stream:stream>/;

export function userAgent(id = AGENT_ID): string {
  return `<user-agent id='${id}'><software>AwesomeXMPP</software><device>Kiva's Phone</device></user-agent>`;
}

/** The text of the first `<name>` element in `xml`, or undefined. */
export function childText(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}(?:\\s[^>]*)?>([^<]*)</${name}>`).exec(xml)?.[1];
}

/**
 * A SCRAM exchange over SASL2 (XEP-0388 §Initiation, §Challenges and Responses); `inline` goes
 * inside <authenticate/>. Resolves with everything the server sent after the <response/>.
 */
export async function sasl2Scram(
  raw: RawClient,
  client: ScramClient,
  mechanism: string,
  inline = "",
): Promise<string> {
  raw.send(
    `<authenticate xmlns='${SASL2}' mechanism='${mechanism}'><initial-response>${client.first()}</initial-response>${userAgent()}${inline}</authenticate>`,
  );
  const challenge = childText(await raw.readUntil("</challenge>"), "challenge")!;
  raw.send(`<response xmlns='${SASL2}'>${client.final(challenge)}</response>`);
  return raw.readUntil(/<\/stream:features>|<\/failure>/);
}

/** SASL2 PLAIN with an initial response; `agent` replaces the <user-agent/> element. */
export function sasl2Plain(
  raw: RawClient,
  user: string,
  password: string,
  inline = "",
  agent = userAgent(),
): void {
  const creds = Buffer.from(`\0${user}\0${password}`).toString("base64");
  raw.send(
    `<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${creds}</initial-response>${agent}${inline}</authenticate>`,
  );
}

export const FAST = "urn:xmpp:fast:0";

/** An HT-SHA-256-* hash (draft-schmaus-kitten-sasl-ht): HMAC(token, label || cb-data). */
export function htHash(
  token: string,
  label: "Initiator" | "Responder",
  cb: Buffer = Buffer.alloc(0),
): Buffer {
  return createHmac("sha256", Buffer.from(token, "utf8")).update(label).update(cb).digest();
}

/**
 * A FAST login (XEP-0484 §Client authenticates using FAST): the HT initial response
 * `user NUL HMAC(token, "Initiator" || cb)` with <fast/> (its attributes from `fast`).
 */
export function sasl2Fast(
  raw: RawClient,
  mechanism: string,
  user: string,
  token: string,
  opts: { cb?: Buffer; fast?: string; inline?: string; agent?: string } = {},
): void {
  const first = Buffer.concat([Buffer.from(`${user}\0`), htHash(token, "Initiator", opts.cb)]);
  raw.send(
    `<authenticate xmlns='${SASL2}' mechanism='${mechanism}'><initial-response>${first.toString("base64")}</initial-response>${opts.agent ?? userAgent()}<fast xmlns='${FAST}'${opts.fast ?? ""}/>${opts.inline ?? ""}</authenticate>`,
  );
}

/** The token and expiry of a <token/> in a <success/>. */
export function tokenOf(answer: string): { token: string; expiry: string } | undefined {
  const m =
    /<token xmlns=['"]urn:xmpp:fast:0['"] expiry=['"]([^'"]+)['"] token=['"]([^'"]+)['"]\/>/.exec(
      answer,
    );
  return m ? { expiry: m[1]!, token: m[2]! } : undefined;
}

/** Raw connections after STARTTLS for one suite; endAll() in afterEach. */
export class TlsClients {
  private readonly open: RawClient[] = [];

  constructor(private readonly port: () => number) {}

  async connect(): Promise<RawClient> {
    return (await this.connectWithFeatures()).raw;
  }

  /** A connection after STARTTLS, with the stream features offered then. */
  async connectWithFeatures(): Promise<{ raw: RawClient; features: string }> {
    const raw = await RawClient.connect(this.port());
    this.open.push(raw);
    return { raw, features: await raw.starttls() };
  }

  endAll(): void {
    for (const r of this.open.splice(0)) r.end();
  }
}
