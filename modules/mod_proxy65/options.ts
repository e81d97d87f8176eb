// mod_proxy65's options, named, defaulted and meaning as in ejabberd's mod_proxy65, plus two
// limits of Parley's own for connections that are never activated (XEP-0065 §11.3).
import { isIP } from "node:net";
import { opt, OptionError } from "../../src/moduleapi.js";

/** An ejabberd option Parley takes with one value only, refusing others with the reason. */
function only<T extends string>(value: T, doc: string, why: string) {
  return opt.custom<T>(value, value, doc, (v) => {
    if (v === value) return value;
    throw new OptionError(`only ${value} is supported: ${why}; got ${JSON.stringify(v)}`);
  });
}

/** ejabberd's socket buffer sizes: accepted for ejabberd configs, with no effect. */
function buffer(doc: string) {
  return opt.integer(65536, `${doc}; accepted, no effect: Node.js does not size TCP buffers`, {
    min: 1,
  });
}

export const proxyOptions = {
  host: opt.string("proxy.@HOST@", "The proxy's JID (a domain); @HOST@ is the virtual host"),
  name: opt.string("SOCKS5 Bytestreams", "The proxy's name in service discovery"),
  ip: opt.custom<string>(
    "an IP address",
    "",
    "Where the SOCKS5 listener binds; default: the address the proxy's domain resolves to, or 127.0.0.1",
    (v) => {
      if (typeof v === "string" && isIP(v) !== 0) return v;
      throw new OptionError(`expected an IP address, got ${JSON.stringify(v)}`);
    },
  ),
  hostname: opt.string(
    "",
    "The host clients are told to connect to (behind NAT: the public name or address); @HOST@ is the virtual host; default: ip",
  ),
  port: opt.integer(7777, "The SOCKS5 listener's TCP port (0: any free port)", {
    min: 0,
    max: 65535,
  }),
  access: opt.access(
    "all",
    "Who may use the proxy: an access rule asked with the requester's JID (local: this server's accounts)",
  ),
  max_connections: opt.integer(
    Infinity,
    "Active bytestreams one initiator (full JID) may have at once, or infinity",
    { min: 1, infinity: true },
  ),
  shaper: opt.custom<number>(
    "none or a number of bytes per second",
    Infinity,
    "Bandwidth of each bytestream in each direction: none, or bytes per second (Parley takes the rate itself: it has no shaper rules)",
    (v) => {
      if (v === "none") return Infinity;
      if (typeof v === "number" && Number.isInteger(v) && v >= 1) return v;
      throw new OptionError(
        `expected none or a number of bytes per second; shaper rule names are not supported (Parley has no shaper rules), got ${JSON.stringify(v)}`,
      );
    },
  ),
  auth_type: only(
    "anonymous",
    "SOCKS5 authentication: anonymous (the hash of the session is the secret)",
    "plain (checking account passwords over SOCKS5) is not implemented",
  ),
  recbuf: buffer("Receive buffer size in bytes"),
  sndbuf: buffer("Send buffer size in bytes"),
  activation_timeout: opt.seconds(
    60,
    "How long a connection may wait for its bytestream to be activated before it is closed (Parley's own; ejabberd's fixed wait)",
    { min: 1, max: 3600 },
  ),
  max_connections_per_ip: opt.integer(
    64,
    "Connections one IP address may hold on the proxy at once (Parley's own), or infinity",
    { min: 2, infinity: true },
  ),
};
