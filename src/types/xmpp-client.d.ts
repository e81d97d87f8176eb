// @xmpp/client ships no types; tests use it loosely.
declare module "@xmpp/client" {
  import type { Element } from "@xmpp/xml";
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function client(options: Record<string, unknown>): any;
  export { xml } from "@xmpp/xml";
  export type { Element };
}
