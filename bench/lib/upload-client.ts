// The upload scenario's worker side (upload.ts): each logged-in user asks the upload service for
// a slot (XEP-0363 §4) and PUTs a file of the given size into it (§5), all at once. The slot's
// URL names the server's HTTP host; the request always goes to loopback on its port, with the
// URL's host as Host header (Prosody's names upload.<domain>, which need not resolve).
import http from "node:http";
import { performance } from "node:perf_hooks";
import type { UploadResult } from "./protocol.js";
import { attr, condition, countError, LOOPBACK, XmppError, type Conn, type El } from "./xmpp.js";

const NS_UPLOAD = "urn:xmpp:http:upload:0";
const CONTENT_TYPE = "application/octet-stream";

/** The file every upload of this worker sends: one buffer of `size` bytes, made once. */
let body: Buffer = Buffer.alloc(0);

const unescape = (s: string) =>
  s
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&apos;/g, "'");

/** The PUT URL and headers of a slot (§4: Authorization, Cookie, Expires only). */
function putOf(slot: El): { url: URL; headers: Record<string, string> } {
  const put = /<put\s[^>]*url=(['"])([^'"]*)\1[^>]*?(\/>|>([\s\S]*?)<\/put>)/.exec(slot.raw);
  if (!put) throw new XmppError("slot without <put/>", "upload-slot");
  const headers: Record<string, string> = {};
  for (const h of (put[4] ?? "").matchAll(/<header\s+name=(['"])([^'"]+)\1\s*>([^<]*)<\/header>/g))
    headers[h[2]!] = unescape(h[3]!);
  return { url: new URL(unescape(put[2]!)), headers };
}

function requestSlot(conn: Conn, service: string, id: string, size: number): Promise<El> {
  conn.write(
    `<iq type='get' id='${id}' to='${service}'><request xmlns='${NS_UPLOAD}' ` +
      `filename='${id}.bin' size='${size}' content-type='${CONTENT_TYPE}'/></iq>`,
  );
  return conn.iqResult(id, 30_000, "upload-slot");
}

function put(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: LOOPBACK,
        port: Number(url.port || 80),
        path: url.pathname + url.search,
        method: "PUT",
        headers: {
          ...headers,
          Host: url.host,
          "Content-Type": CONTENT_TYPE,
          "Content-Length": body.length,
        },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`PUT timed out (${timeoutMs} ms)`)));
    req.on("error", (err) => reject(new XmppError(err.message, "upload-put")));
    req.end(body);
  });
}

/** Every user of `users` uploads one file of `size` bytes, all at the same time. */
export async function uploadAll(
  conns: Map<string, Conn>,
  users: string[],
  service: string,
  size: number,
  timeoutMs: number,
): Promise<UploadResult> {
  if (body.length !== size) body = Buffer.alloc(size, 0x5a);
  const r = { ok: 0, failed: 0, errors: {} as Record<string, number>, ms: [] as number[] };
  let first = Infinity;
  let last = 0;
  await Promise.all(
    users.map(async (user, i) => {
      try {
        const conn = conns.get(user);
        if (!conn || conn.closed) throw new XmppError(`${user} is not logged in`, "upload");
        const t0 = performance.now();
        const slot = await requestSlot(conn, service, `up${i}-${user}`, size);
        if (attr(slot, "type") !== "result")
          throw new XmppError(`slot refused: ${condition(slot)}`, "upload-slot");
        const { url, headers } = putOf(slot);
        first = Math.min(first, performance.now());
        const status = await put(url, headers, timeoutMs);
        if (status !== 200 && status !== 201)
          throw new XmppError(`PUT answered ${status}`, "upload-put");
        last = Math.max(last, performance.now());
        r.ms.push(last - t0);
        r.ok++;
      } catch (err) {
        r.failed++;
        countError(r.errors, err);
      }
    }),
  );
  return { ...r, windowMs: r.ok ? last - first : 0, bytes: r.ok * size, cpuMs: 0, elu: 0 };
}
