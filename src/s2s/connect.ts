import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { S2STarget } from "./resolve.js";

/** What our side of a TLS handshake with a peer presents and trusts. */
export type PeerTlsOptions = Pick<
  ConnectionOptions,
  | "ca"
  | "key"
  | "cert"
  | "rejectUnauthorized"
  // s2s_ciphers, s2s_protocol_options (tls-options.ts).
  | "ciphers"
  | "minVersion"
  | "honorCipherOrder"
  | "secureOptions"
  | "dhparam"
>;

/**
 * Opens a TCP connection to one target of a domain, with TLS from the first byte for a direct
 * TLS one (XEP-0368 §3: SNI names the domain, ALPN "xmpp-server"). Resolves once connected
 * (and, for TLS, once the handshake is done); the certificate is judged by the caller.
 */
export function openTarget(t: S2STarget, domain: string, tls: PeerTlsOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = t.directTls
      ? tlsConnect({
          host: t.host,
          port: t.port,
          servername: domain,
          ALPNProtocols: ["xmpp-server"],
          ...tls,
        })
      : netConnect({ host: t.host, port: t.port });
    const ok = (): void => {
      socket.off("error", bad);
      resolve(socket);
    };
    const bad = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once(t.directTls ? "secureConnect" : "connect", ok);
    socket.once("error", bad);
  });
}
