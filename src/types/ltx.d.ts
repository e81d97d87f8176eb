// Types for the one function of `ltx` Parley uses (the package ships none): parsing XML the
// server stored itself back into an element of @xmpp/xml's class (see src/xml/stored.ts).
declare module "ltx" {
  import type { Element } from "@xmpp/xml";

  export function parse(
    data: string,
    options?: { Element?: new (name: string, attrs?: Record<string, string>) => Element },
  ): Element;
}
