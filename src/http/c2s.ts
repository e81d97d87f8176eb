// How a transport of an HTTP listener (WebSocket, BOSH) becomes a client session: the Server
// hands its handlers a StartSession, which runs the same C2SSession, negotiation and modules as
// a TCP connection gets, counted and closed with the rest.
import type { HttpListenerConfig, ListenerConfig } from "../config/config.js";
import type { Transport, TransportOwner } from "../transport/transport.js";

export type StartSession = (
  listener: Readonly<HttpListenerConfig>,
  makeTransport: (owner: TransportOwner) => Transport,
) => void;

/** c2sListenerOf's answers, one per HTTP listener rather than one per session. */
const derived = new WeakMap<Readonly<HttpListenerConfig>, ListenerConfig>();

/** What the session needs of its listener: the stream limits, and no STARTTLS (RFC 7395 §3.1, XEP-0206 §4). */
export function c2sListenerOf(l: Readonly<HttpListenerConfig>): ListenerConfig {
  let c = derived.get(l);
  if (!c) derived.set(l, (c = derive(l)));
  return c;
}

function derive(l: Readonly<HttpListenerConfig>): ListenerConfig {
  return {
    port: l.port,
    ip: l.ip,
    module: "c2s",
    tls: l.tls,
    starttls: false,
    starttlsRequired: false,
    maxStanzaSize: l.maxStanzaSize,
    unauthenticatedTimeout: l.unauthenticatedTimeout,
    access: "all",
    shaper: "none",
    // The HTTP listener limits its own connections (its max_connections_per_ip).
    maxConnectionsPerIp: Infinity,
    maxConnectionRatePerIp: Infinity,
  };
}
