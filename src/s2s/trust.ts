import { existsSync, readFileSync } from "node:fs";
import { checkServerIdentity, rootCertificates, type TLSSocket } from "node:tls";

/** Debian's (and most distributions') bundle of the system trust store. */
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * The trust anchors peers' certificates are verified against (XEP-0178 §2, PKIX): the system
 * store where the system has one (Node's own copy of Mozilla's roots otherwise), plus
 * `s2s_cafile`. Read once at start.
 */
export function trustAnchors(cafile: string | undefined): string[] {
  const anchors = existsSync(SYSTEM_BUNDLE)
    ? [readFileSync(SYSTEM_BUNDLE, "utf8")]
    : [...rootCertificates];
  if (cafile !== undefined) {
    try {
      anchors.push(readFileSync(cafile, "utf8"));
    } catch (err) {
      throw new Error(`s2s_cafile: cannot read ${cafile}: ${(err as Error).message}`);
    }
  }
  return anchors;
}

/**
 * Whether the peer on `socket` proved it is `domain` (RFC 6125 as RFC 6120 §13.7.2 and XEP-0178
 * apply it): a chain to one of our trust anchors, and the domain among the certificate's DNS
 * names. The reason comes back when it did not, for the log.
 */
export function certificateProves(
  socket: TLSSocket,
  domain: string,
): { ok: true } | { ok: false; reason: string } {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, reason: "no certificate" };
  const chainError = verifyError(socket);
  if (chainError) return { ok: false, reason: chainError };
  const mismatch = checkServerIdentity(domain, cert);
  if (mismatch) return { ok: false, reason: mismatch.message };
  return { ok: true };
}

/** The internal handle of a TLS socket, which holds OpenSSL's verdict on the peer's chain. */
interface TlsHandle {
  verifyError?: () => (Error & { code?: string }) | null;
}

/**
 * OpenSSL's verdict on the peer's chain against the context's trust anchors, or null when it
 * verified. Node sets `authorized` itself only on sockets its own tls.Server or tls.connect made;
 * a STARTTLS socket wrapped by hand (src/transport/tcp.ts) has to ask the handle, as tls.Server
 * does.
 */
function verifyError(socket: TLSSocket): string | null {
  if (socket.authorized) return null;
  if (socket.authorizationError) return String(socket.authorizationError);
  const handle = (socket as unknown as { _handle?: TlsHandle })._handle;
  if (typeof handle?.verifyError !== "function") return "the chain could not be checked";
  const err = handle.verifyError();
  return err ? (err.code ?? err.message) : null;
}
