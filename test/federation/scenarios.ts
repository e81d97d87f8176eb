// The federation runs: which servers (kind, address, domains with their certificates and whether
// they take dialback) and which checks, per pair of server kinds. Each run has a "home" side with
// a domain that takes dialback and a strict one (certificates required), and a "peer" side with a
// strict main domain, a dialback-only domain (self-signed certificate) and, where the peer's
// software can present it, a domain whose certificate names another domain:
//
//   home.dialback ↔ peer.main        subscriptions, chat, MUC both ways (links by certificates)
//   home.strict   ↔ peer.main        chat both ways: XEP-0178 (SASL EXTERNAL) on both links
//   peer.selfsigned ↔ home.dialback  chat both ways: XEP-0220 dialback, the certificate fails
//   peer.mismatch   ↔ home.dialback  chat both ways: dialback, the certificate names another host
//   peer.selfsigned, peer.mismatch ↔ home.strict: refused both ways (the message bounces)
//
// prosody-ejabberd proves the harness on two servers whose federation is known to work; the
// Parley runs put Parley on the home side (and on both sides for parley-parley).
import { chat, pairChecks, refused, type Check } from "./checks.js";
import type { Kind, ServerSpec } from "./servers.js";

export interface Scenario {
  title: string;
  servers: ServerSpec[];
  checks: Check[];
}

interface Layout {
  /** Domains of the home side: one that takes dialback, one that requires certificates. */
  home: { dialback: string; strict: string };
  /** The peer side's main domain (certificates required), and its odd ones. */
  peer: { main: string; selfsigned: string; mismatch: string };
}

/** The same check from a to b and from b to a. */
const bothWays = (
  make: (from: string, to: string, what: string) => Check,
  a: string,
  b: string,
  what: string,
): Check[] => [make(a, b, what), make(b, a, what)];

const SELF_SIGNED = "self-signed, no dialback";
const MISMATCHED = "certificate for another name, no dialback";

function checksOf({ home, peer }: Layout): Check[] {
  return [
    ...pairChecks(home.dialback, peer.main),
    ...bothWays(chat, home.strict, peer.main, "certificates only:"),
    ...bothWays(chat, peer.selfsigned, home.dialback, "dialback (self-signed peer):"),
    ...bothWays(chat, peer.mismatch, home.dialback, "dialback (mismatched certificate):"),
    ...bothWays(refused, peer.selfsigned, home.strict, SELF_SIGNED),
    ...bothWays(refused, peer.mismatch, home.strict, MISMATCHED),
  ];
}

/**
 * A Prosody or ejabberd peer: one server with its main domain and the two odd ones. The odd ones
 * authenticate themselves by dialback; ejabberd's main domain takes certificates only (no
 * mod_s2s_dialback for it), Prosody's takes dialback too (s2s_secure_auth is one for the whole
 * server), which changes nothing against Parley's valid certificates.
 */
function peerServer(kind: Kind, address: string, main: string): ServerSpec {
  return {
    kind,
    address,
    hosts: [
      { domain: main, cert: "ca", dialback: kind === "prosody" },
      { domain: "selfsigned.test", cert: "self-signed", dialback: true },
      { domain: "mismatch.test", cert: "wrong-name", dialback: true },
    ],
  };
}

const PEER = { selfsigned: "selfsigned.test", mismatch: "mismatch.test" };

/** A server of one domain with a certificate from the test CA. */
const single = (kind: Kind, address: string, domain: string, dialback: boolean): ServerSpec => ({
  kind,
  address,
  hosts: [{ domain, cert: "ca", dialback }],
});

/** Parley on the home side: two servers, one with mod_s2s_dialback, one without. */
const PARLEY_HOME: ServerSpec[] = [
  single("parley", "127.0.0.2", "parley.test", true),
  single("parley", "127.0.0.3", "parley2.test", false),
];
const PARLEY_DOMAINS = { dialback: "parley.test", strict: "parley2.test" };

function parleyWith(kind: "prosody" | "ejabberd", title: string): Scenario {
  const main = `${kind}.test`;
  return {
    title,
    servers: [...PARLEY_HOME, peerServer(kind, "127.0.0.4", main)],
    checks: checksOf({ home: PARLEY_DOMAINS, peer: { main, ...PEER } }),
  };
}

export const SCENARIOS: Record<string, Scenario> = {
  "prosody-ejabberd": {
    title: "Prosody ↔ ejabberd (the harness itself, no Parley)",
    servers: [
      single("prosody", "127.0.0.2", "prosody.test", true),
      single("prosody", "127.0.0.3", "prosody2.test", false),
      peerServer("ejabberd", "127.0.0.4", "ejabberd.test"),
    ],
    checks: checksOf({
      home: { dialback: "prosody.test", strict: "prosody2.test" },
      peer: { main: "ejabberd.test", ...PEER },
    }),
  },
  "parley-prosody": parleyWith("prosody", "Parley ↔ Prosody"),
  "parley-ejabberd": parleyWith("ejabberd", "Parley ↔ ejabberd"),
  // Parley on both sides. A Parley presents a certificate for each of its hosts or generates a
  // self-signed one, so it has no mismatched peer; the dialback-only one is a third Parley.
  "parley-parley": {
    title: "Parley ↔ Parley",
    servers: [
      ...PARLEY_HOME,
      {
        kind: "parley",
        address: "127.0.0.4",
        hosts: [{ domain: "selfsigned.test", cert: "self-signed", dialback: true }],
      },
    ],
    checks: [
      ...pairChecks("parley.test", "parley2.test"),
      ...bothWays(chat, "selfsigned.test", "parley.test", "dialback (self-signed peer):"),
      ...bothWays(refused, "selfsigned.test", "parley2.test", SELF_SIGNED),
    ],
  },
};
