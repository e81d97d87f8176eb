// mod_configure: XEP-0133 Service Administration, as ejabberd names it: the everyday admin tasks
// as ad-hoc commands (XEP-0050, run by mod_adhoc) for those the `access` rule allows, by
// default the `configure` rule (allow: admin, the users of `acl: admin`).
//
//   users.ts   add, delete, disable, re-enable a user, end sessions, change a password
//   stats.ts   numbers and lists of registered, disabled and online users; a user's roster and
//              statistics
//
// Node names and form fields are XEP-0133's own (http://jabber.org/protocol/admin#…), so that
// clients with an XEP-0133 menu (Gajim, Psi, slixmpp's xep_0133) find them.
import { defineModule, opt } from "../../src/moduleapi.js";
import { offerStatsCommands } from "./stats.js";
import { offerUserCommands } from "./users.js";

export default defineModule({
  name: "mod_configure",
  description: "XEP-0133 service administration through ad-hoc commands",
  options: {
    access: opt.access("configure", "Who may run the administration commands"),
  },
  dependencies: { hard: ["mod_adhoc"] },
  start(ctx) {
    offerUserCommands(ctx);
    offerStatsCommands(ctx);
  },
});
