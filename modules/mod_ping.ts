// mod_ping: XEP-0199 XMPP Ping. Answers pings to the server (and, on the user's behalf, to a
// user's bare JID) with an empty result.
import { defineModule } from "../src/moduleapi.js";

const NS_PING = "urn:xmpp:ping";

export default defineModule({
  name: "mod_ping",
  description: "XEP-0199: answers pings to the server",
  options: {},
  start(ctx) {
    ctx.feature(NS_PING);
    // XEP-0199 §4.2: client-to-server ping; the result carries no payload.
    ctx.iq("get", NS_PING, "ping", () => null);
  },
});
