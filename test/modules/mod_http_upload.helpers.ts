// HTTP upload in module tests: slot requests over XMPP (XEP-0363 §4) and plain HTTP requests
// to the upload service's handler.
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient } from "../../src/testkit/index.js";
import type { UploadApi } from "../../modules/mod_http_upload/index.js";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";
let seq = 0;

/** Asks `to` for a slot; resolves with the IQ answer (result or error). */
export async function askSlot(
  c: TestClient,
  attrs: { filename: string; size: number | string; "content-type"?: string },
  to = "upload.localhost",
): Promise<Element> {
  const id = `slot${++seq}`;
  const request = xml("request", { xmlns: NS_UPLOAD, ...attrs, size: String(attrs.size) });
  await c.send(xml("iq", { type: "get", id, to }, request));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

/** The PUT and GET URLs of a slot answer. */
export function slotUrls(res: Element): { put: string; get: string } {
  const slot = res.getChild("slot", NS_UPLOAD);
  if (res.attrs.type !== "result" || !slot) throw new Error(`no slot: ${res.toString()}`);
  return {
    put: String(slot.getChild("put")?.attrs.url),
    get: String(slot.getChild("get")?.attrs.url),
  };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request to `url` with the scheme, host and port replaced by the test listener's
 * (`base`, e.g. http://127.0.0.1:1234), the path kept. A Buffer body is sent with its length
 * unless headers say otherwise; a stream is sent chunked unless a Content-Length is given.
 */
export function http(
  base: string,
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: Buffer | Readable } = {},
): Promise<HttpAnswer> {
  const target = new URL(new URL(url).pathname + new URL(url).search, base);
  return new Promise((resolve, reject) => {
    // The URL's own host goes in Host, as a client behind the real put_url would send it.
    const headers: Record<string, string> = { Host: new URL(url).host, ...opts.headers };
    if (Buffer.isBuffer(opts.body) && !hasHeader(headers, "content-length")) {
      headers["Content-Length"] = String(opts.body.length);
    }
    const req = httpRequest(target, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.body === undefined) req.end();
    else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else opts.body.pipe(req);
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

const PREFIX = "/upload";

/** A plain HTTP server handing everything under PREFIX to the module, as a listener would. */
export async function mount(api: UploadApi): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith(`${PREFIX}/`)) void api.handle(req, res, url.slice(PREFIX.length));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
