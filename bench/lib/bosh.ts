// The bosh scenario (issue 14): the idle sessions of the TCP scenario, with the same logins,
// over XMPP over BOSH (XEP-0124, XEP-0206; plain http:// on loopback, SCRAM-SHA-1, bind, initial
// presence, a ping round trip), each session then kept as a web client keeps it: one request
// held by the server (hold=1, wait=60), sent again whenever it is answered (bosh-conn.ts). It
// runs on a freshly started server of its own with the HTTP listener and BOSH on (Scenario.bosh),
// as the usual run's idle scenario does on a fresh one, so that the RSS per session of the two
// transports is measured alike; tcpReference() then puts the TCP figures of the same run beside
// the BOSH ones, with their ratios. The bosh-tls scenario is the same over https:// (the HTTP
// listener with TLS, Scenario.https): the TCP sessions run STARTTLS, so this is the like-for-like
// comparison for a server that terminates TLS itself, one TLS connection per held request.
import { idle, type Scenario } from "./scenarios.js";
import { overTransport } from "./websocket.js";

/** The scenario over http:// or, with `tls`, https://. */
function boshScenario(tls: boolean): Scenario {
  const name = tls ? "bosh-tls" : "bosh";
  return {
    name,
    title: `BOSH (XEP-0206, ${tls ? "https" : "http"}://): idle sessions, each with one request held`,
    users: (o) => o.idleSessions,
    bosh: true,
    https: tls,
    async run(ctx) {
      ctx.log(`  idle sessions over BOSH${tls ? " (https)" : ""}`);
      const i = await idle.run({ ...ctx, bosh: true });
      return {
        scenario: name,
        title: this.title,
        status: i.status,
        note: i.note,
        metrics: overTransport(i, name, tls ? "BOSH https" : "BOSH"),
        load: i.load,
        details: { idle: i.details },
      };
    },
  };
}

export const bosh = boshScenario(false);
export const boshTls = boshScenario(true);
