// XEP-0156 §3: the HTTP lookup method. /.well-known/host-meta (XRD, RFC 6415) and
// /.well-known/host-meta.json (JRD) list the connection methods a web client can use: this
// listener's WebSocket (RFC 7395 §4) and BOSH URLs, for the host the client asked for.
import { escapeXML } from "@xmpp/xml";
import type { HttpHandlers } from "./registry.js";
import type { HttpHandler, HttpRequest } from "./types.js";

export const HOST_META = "mod_host_meta";
/** The handler names whose URLs host-meta lists, and the link relation of each (XEP-0156 §3). */
const ALT_CONNECTIONS: Readonly<Record<string, { rel: string; ws: boolean }>> = {
  ejabberd_http_ws: { rel: "urn:xmpp:alt-connections:websocket", ws: true },
  mod_bosh: { rel: "urn:xmpp:alt-connections:xbosh", ws: false },
};

export function hostMetaHandler(handlers: HttpHandlers): HttpHandler {
  return {
    request(r: HttpRequest): void {
      const { req, res } = r;
      // XEP-0156 §3.1: browsers read it from other origins.
      res.setHeader("Access-Control-Allow-Origin", "*");
      if (req.method === "OPTIONS") {
        res.writeHead(204, { "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS" }).end();
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD, OPTIONS" }).end();
        return;
      }
      const links = connectionLinks(r, handlers);
      const json = r.prefix.endsWith(".json");
      const body = json
        ? JSON.stringify({ links })
        : "<?xml version='1.0' encoding='utf-8'?>\n" +
          "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n" +
          links.map((l) => `  <Link rel='${l.rel}' href='${escapeXML(l.href)}'/>\n`).join("") +
          "</XRD>\n";
      res.writeHead(200, {
        "Content-Type": json ? "application/json" : "application/xrd+xml; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        "Cache-Control": "max-age=3600",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}

/** This listener's connection URLs, for the Host the client named, of handlers that exist. */
function connectionLinks(r: HttpRequest, handlers: HttpHandlers): { rel: string; href: string }[] {
  const out: { rel: string; href: string }[] = [];
  for (const route of r.listener.requestHandlers) {
    const alt = ALT_CONNECTIONS[route.handler];
    if (!alt || !handlers.has(route.handler)) continue;
    const scheme = alt.ws ? (r.secure ? "wss" : "ws") : r.secure ? "https" : "http";
    out.push({ rel: alt.rel, href: `${scheme}://${r.url.host}${route.path}` });
  }
  return out;
}
