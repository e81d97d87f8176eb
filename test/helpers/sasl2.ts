import type { RawClient } from "./raw.js";
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
