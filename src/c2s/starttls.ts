import type { Element } from "@xmpp/xml";
import { NS } from "../xmpp/ns.js";
import type { C2SStream, StreamFeature } from "./stream.js";

/** STARTTLS (RFC 6120 §5): offered on a plain TCP stream, required when the listener says so. */
export function starttlsFeature(stream: C2SStream): StreamFeature {
  return {
    stage: "pre-auth",
    advertise(features: Element): void {
      if (!offered(stream)) return;
      const starttls = features.c("starttls", { xmlns: NS.tls });
      if (stream.listener.starttlsRequired) starttls.c("required");
    },
    accepts: (el) => el.name === "starttls" && el.getNS() === NS.tls,
    handle(): void {
      const { transport, ctx } = stream;
      if (!offered(stream)) {
        stream.write(`<failure xmlns='${NS.tls}'/>`);
        return stream.close();
      }
      const tuning = stream.listener.tlsOptions;
      const context = ctx.certs.contextFor(stream.host!, tuning);
      if (!context) {
        stream.log.error({ host: stream.host }, "no certificate for host; cannot start TLS");
        stream.write(`<failure xmlns='${NS.tls}'/>`);
        return stream.close();
      }
      // RFC 6120 §5.4.3.3: nothing pipelined in the clear is used.
      stream.awaitTlsRestart();
      transport.startTls(
        { context, sni: ctx.certs.sniCallback(stream.host!, tuning) },
        () => undefined,
      );
    },
  };
}

function offered(stream: C2SStream): boolean {
  return stream.transport.canStartTls && stream.listener.starttls;
}

/** RFC 6120 §5.3.1: when TLS is mandatory and not yet on, nothing else is offered or taken. */
export function tlsStillRequired(stream: C2SStream): boolean {
  return offered(stream) && stream.listener.starttlsRequired;
}
