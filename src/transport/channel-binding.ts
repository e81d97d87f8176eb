// SASL channel binding data (RFC 5056) of one TLS connection, for SCRAM-*-PLUS (RFC 5802 §6).
//
// Three types, because clients in the field use all three:
//   - tls-exporter (RFC 9266): the TLS 1.3 type; modern clients (Conversations, Dino, Monal).
//   - tls-server-end-point (RFC 5929 §4): a hash of our certificate; any TLS version.
//   - tls-unique (RFC 5929 §3): the first Finished message; TLS 1.2's type. RFC 9266 leaves it
//     undefined for TLS 1.3, but clients built on OpenSSL-based TLS stacks (slixmpp through
//     Python's ssl module, poezio) still send it there. We compute it as OpenSSL exposes it —
//     the client's Finished on a full handshake, ours on a resumed one, exactly the choice
//     Python's SSLSocket.get_channel_binding makes on the client side — as ejabberd 23.01 does,
//     so those clients log in. The TLS 1.3 client Finished covers the whole handshake
//     transcript, so it is still unique to this connection.

import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";

export type ChannelBindingType = "tls-exporter" | "tls-server-end-point" | "tls-unique";

/** The types this connection can bind to, in the order we advertise them (XEP-0440). */
export type ChannelBindings = ReadonlyMap<ChannelBindingType, Buffer>;

/** Computes every channel binding this (established) server-side TLS socket supports. */
export function channelBindingsOf(tls: TLSSocket): ChannelBindings {
  const out = new Map<ChannelBindingType, Buffer>();
  if (tls.getProtocol() === "TLSv1.3") {
    // RFC 9266 §2: 32 bytes, label "EXPORTER-Channel-Binding", no context.
    out.set(
      "tls-exporter",
      tls.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0)),
    );
  }
  const cert = tls.getCertificate();
  const raw = cert && "raw" in cert ? (cert.raw as Buffer | undefined) : undefined;
  if (raw) {
    const hash = endPointHash(raw);
    if (hash) out.set("tls-server-end-point", createHash(hash).update(raw).digest());
  }
  const finished = tls.isSessionReused() ? tls.getFinished() : tls.getPeerFinished();
  if (finished && finished.length > 0) out.set("tls-unique", finished);
  return out;
}

// --- tls-server-end-point: which hash (RFC 5929 §4.1) --------------------------------------

/** Signature algorithm OIDs → the hash they use; SHA-1 and MD5 become SHA-256 (RFC 5929 §4.1). */
const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.4": "sha256", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5": "sha256", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.14": "sha224",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha256", // ecdsa-with-SHA1
  "1.2.840.10045.4.3.1": "sha224",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.10040.4.3": "sha256", // dsa-with-sha1
  "2.16.840.1.101.3.4.3.1": "sha224", // dsa-with-sha224
  "2.16.840.1.101.3.4.3.2": "sha256", // dsa-with-sha256
};

/** Hash algorithm OIDs, for RSASSA-PSS parameters (RFC 4055 §3.1). */
const HASH_OID: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha256", // SHA-1, upgraded as above
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

const RSASSA_PSS = "1.2.840.113549.1.1.10";

/**
 * The hash RFC 5929 §4.1 prescribes for a DER certificate, or null where the binding is
 * undefined (a signature with no single hash, such as Ed25519, or a certificate we cannot read).
 */
export function endPointHash(der: Buffer): string | null {
  try {
    const cert = readTLV(der, 0); // Certificate ::= SEQUENCE
    const tbs = readTLV(der, cert.start); // tbsCertificate
    const sigAlg = readTLV(der, tbs.end); // signatureAlgorithm AlgorithmIdentifier
    const oid = readTLV(der, sigAlg.start);
    if (oid.tag !== 0x06) return null;
    const name = decodeOID(der.subarray(oid.start, oid.end));
    if (name !== RSASSA_PSS) return SIGNATURE_HASH[name] ?? null;
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
    if (oid.end >= sigAlg.end) return "sha256";
    const params = readTLV(der, oid.end);
    if (params.start >= params.end) return "sha256";
    const first = readTLV(der, params.start);
    if (first.tag !== 0xa0) return "sha256";
    const hashAlg = readTLV(der, first.start);
    const hashOid = readTLV(der, hashAlg.start);
    return HASH_OID[decodeOID(der.subarray(hashOid.start, hashOid.end))] ?? null;
  } catch {
    return null;
  }
}

interface TLV {
  tag: number;
  /** Offset of the value's first byte, and one past its last. */
  start: number;
  end: number;
}

/** One DER tag-length-value at `offset` (definite lengths only, as DER requires). */
function readTLV(buf: Buffer, offset: number): TLV {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) throw new RangeError("truncated DER");
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError("unsupported DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new RangeError("truncated DER");
  return { tag, start, end };
}

function decodeOID(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0)
        parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join(".");
}
