// The HTTP handler interface: what the core's handlers (WebSocket, host-meta, metrics) and the
// modules' (ctx.httpHandler: HTTP upload, BOSH) implement to serve a path prefix of an
// ejabberd_http listener. Kept free of server internals so modules can import it through the
// module API and it stays stable.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { HttpListenerConfig } from "../config/types.js";

/** What every request or upgrade tells its handler besides Node's own objects. */
export interface HttpRequestInfo {
  /**
   * The request path below the handler's prefix, percent-encoded as received and normalised
   * (RFC 3986 §5.2.4 dot segments removed): "" for the prefix itself, else starting with "/".
   * For `/upload/abc/photo.jpg` under the prefix `/upload`: `/abc/photo.jpg`.
   */
  readonly path: string;
  /**
   * `path` split on "/" and percent-decoded, without empty segments. The core refuses (400) a
   * request whose decoded segment would be "." or "..", or holds "/", "\" or NUL, so a segment is
   * safe to use as one file name.
   */
  readonly segments: readonly string[];
  /** The prefix from `request_handlers` that matched, such as "/upload". */
  readonly prefix: string;
  /** The absolute URL: scheme of the listener, the request's Host (or the listener address). */
  readonly url: URL;
  /** True on an HTTPS listener (the connection is TLS). */
  readonly secure: boolean;
  /** The peer's IP address as Node reports it (IPv4-mapped IPv6 for IPv4 on "::"). */
  readonly remoteAddress: string;
  /**
   * The listener's configuration: its limits (`maxBodySize` for a handler that reads the whole
   * body) and its `requestHandlers` (where the other handlers are, for host-meta).
   */
  readonly listener: Readonly<HttpListenerConfig>;
}

/** One HTTP request for a handler. The handler must answer through `res`. */
export interface HttpRequest extends HttpRequestInfo {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** An HTTP/1.1 Upgrade request (RFC 9110 §7.8), such as a WebSocket handshake (RFC 6455). */
export interface HttpUpgrade extends HttpRequestInfo {
  readonly req: IncomingMessage;
  /** The raw connection: the handler completes the handshake on it, or answers and ends it. */
  readonly socket: Duplex;
  /** Bytes that arrived after the request's headers. */
  readonly head: Buffer;
}

/**
 * A handler for one path prefix. A request it throws on (or whose promise rejects) is answered
 * with 500 when no response was started, and the error is logged; the server goes on. An
 * upgrade request to a handler without `upgrade` gets 404 with the connection closed.
 */
export interface HttpHandler {
  request(r: HttpRequest): void | Promise<void>;
  upgrade?(u: HttpUpgrade): void;
}
