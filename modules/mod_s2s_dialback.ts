// mod_s2s_dialback: XEP-0220 Server Dialback, as ejabberd's module of that name. Servers whose
// certificate does not verify (self-signed, or for another name) can still link with this one,
// by proving through DNS that they are who they say: the receiving server asks the domain's
// authoritative server whether it made the key. Without this module, only peers with a valid
// certificate link (SASL EXTERNAL, XEP-0178). The protocol itself is in src/s2s.
import { defineModule, makeJID, opt } from "../src/moduleapi.js";

export default defineModule({
  name: "mod_s2s_dialback",
  description: "XEP-0220: servers without a valid certificate authenticate through DNS",
  options: {
    access: opt.access(
      "all",
      "Which servers may authenticate by dialback: an access rule asked with their domain (ejabberd's)",
    ),
  },
  start(ctx) {
    ctx.dialback((remote) => ctx.allowed(ctx.options.access, makeJID("", remote)));
  },
});
