import { Element } from "@xmpp/xml";
import { parse } from "ltx";

/**
 * Parses one element of XML that the server wrote itself (stored stanzas, vCards, private
 * data). Not for untrusted input: client bytes go through the restricted stream parser.
 */
export function parseStoredXml(text: string): Element {
  return parse(text, { Element });
}
