// The SOCKS5 server side of RFC 1928 that XEP-0065 uses: a greeting offering "no authentication"
// (§3), then one CONNECT request (§4) whose DST.ADDR is a DOMAINNAME holding the bytestream's
// hash, SHA1(SID + Requester JID + Target JID) in hex (XEP-0065 §5.3.2, §6.3.2). Pure byte
// parsing, so every malformed input has a test.

const VERSION = 5;
const NO_AUTH = 0x00;
const NO_ACCEPTABLE_METHOD = 0xff;
const CMD_CONNECT = 1;
const ATYP_DOMAINNAME = 3;

/** RFC 1928 §6 reply codes the proxy sends. */
export const Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  hostUnreachable: 0x04,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;
export type ReplyCode = (typeof Reply)[keyof typeof Reply];

/** The longest greeting (2 + 255 methods) or request (5 + 255 + 2) a client can send. */
export const MAX_HANDSHAKE_BYTES = 262;

/** What a read made of the bytes so far: wait for more, a protocol error, or a result. */
export type Read<T> =
  | { kind: "more" }
  | { kind: "bad"; why: string; reply?: Buffer }
  | ({ kind: "ok"; consumed: number } & T);

/** §3: VER, NMETHODS, METHODS. Answered with the method chosen, or X'FF' when none fits. */
export function readGreeting(buf: Buffer): Read<{ reply: Buffer }> {
  if (buf.length < 2) return { kind: "more" };
  if (buf[0] !== VERSION) return { kind: "bad", why: `not SOCKS5 (version ${buf[0]})` };
  const n = buf[1]!;
  if (n === 0) return { kind: "bad", why: "no authentication method offered" };
  if (buf.length < 2 + n) return { kind: "more" };
  const methods = buf.subarray(2, 2 + n);
  if (!methods.includes(NO_AUTH)) {
    return {
      kind: "bad",
      why: "the client does not offer 'no authentication' (XEP-0065 uses none)",
      reply: Buffer.from([VERSION, NO_ACCEPTABLE_METHOD]),
    };
  }
  return { kind: "ok", consumed: 2 + n, reply: Buffer.from([VERSION, NO_AUTH]) };
}

/**
 * §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT. Only CONNECT to a DOMAINNAME that is a SHA-1 in
 * hex is meaningful here; the hash comes back lowercased, and `addr`/`port` as sent, for the
 * reply (XEP-0065 §5.3.2: BND.ADDR and BND.PORT are DST.ADDR and DST.PORT). The port, which
 * XEP-0065 sets to 0, is not checked (§10.1: a StreamHost MAY ignore it).
 */
export function readRequest(buf: Buffer): Read<{ hash: string; addr: Buffer; port: number }> {
  if (buf.length < 5) return { kind: "more" };
  if (buf[0] !== VERSION) return { kind: "bad", why: `not SOCKS5 (version ${buf[0]})` };
  if (buf[1] !== CMD_CONNECT) {
    return {
      kind: "bad",
      why: `command ${buf[1]} is not CONNECT`,
      reply: reply(Reply.commandNotSupported),
    };
  }
  if (buf[3] !== ATYP_DOMAINNAME) {
    return {
      kind: "bad",
      why: `address type ${buf[3]} is not DOMAINNAME`,
      reply: reply(Reply.addressTypeNotSupported),
    };
  }
  const len = buf[4]!;
  const end = 5 + len + 2;
  if (buf.length < end) return { kind: "more" };
  const addr = buf.subarray(5, 5 + len);
  const port = buf.readUInt16BE(5 + len);
  const hash = addr.toString("latin1").toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(hash)) {
    return {
      kind: "bad",
      why: "DST.ADDR is not a SHA-1 in hex",
      reply: reply(Reply.hostUnreachable, addr, port),
    };
  }
  return { kind: "ok", consumed: end, hash, addr: Buffer.from(addr), port };
}

/** A §6 reply: the code, and BND.ADDR/BND.PORT (a DOMAINNAME, or 0.0.0.0:0 when there is none). */
export function reply(code: ReplyCode, addr?: Buffer, port = 0): Buffer {
  const head = Buffer.from([VERSION, code, 0]);
  const bound = addr
    ? Buffer.concat([Buffer.from([ATYP_DOMAINNAME, addr.length]), addr])
    : Buffer.from([1, 0, 0, 0, 0]);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([head, bound, p]);
}
