// Types for the one function of `ltx` mod_offline uses (the package ships none): parsing a
// stanza it stored itself back into an element of @xmpp/xml's class.
declare module "ltx" {
  import type { Element } from "@xmpp/xml";

  export function parse(
    data: string,
    options?: { Element?: new (name: string, attrs?: Record<string, string>) => Element },
  ): Element;
}
