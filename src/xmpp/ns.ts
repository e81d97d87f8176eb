// XML namespaces used by the core (RFC 6120, RFC 6121 and the XEPs named beside each).
export const NS = {
  client: "jabber:client",
  server: "jabber:server",
  component: "jabber:component:accept", // XEP-0114, accept mode
  stream: "http://etherx.jabber.org/streams",
  framing: "urn:ietf:params:xml:ns:xmpp-framing", // RFC 7395 (WebSocket)
  streams: "urn:ietf:params:xml:ns:xmpp-streams",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  tls: "urn:ietf:params:xml:ns:xmpp-tls",
  sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
  bind: "urn:ietf:params:xml:ns:xmpp-bind",
  session: "urn:ietf:params:xml:ns:xmpp-session",
  saslChannelBinding: "urn:xmpp:sasl-cb:0", // XEP-0440
  dialback: "jabber:server:dialback", // XEP-0220
  dialbackFeature: "urn:xmpp:features:dialback", // XEP-0220 §2.1.2
  xml: "http://www.w3.org/XML/1998/namespace",
} as const;
