// GET and HEAD of stored files: the stored type, conditional requests (RFC 9110 §13), one byte
// range (RFC 9110 §14), and headers that keep uploaded content from acting in the service's
// origin (XEP-0363 §9.1).
import { open } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { contentDisposition } from "./media.js";
import type { FilePath } from "./http.js";
import { refuse } from "./reply.js";
import type { FileStore, StoredFile } from "./store.js";

/** A stored file never changes (a new upload is a new URL), so caches may keep it. */
const CACHE_CONTROL = "public, max-age=31536000, immutable";

export async function serveFile(
  stores: Iterable<FileStore>,
  req: IncomingMessage,
  res: ServerResponse,
  where: FilePath | undefined,
): Promise<void> {
  const file = where && (await find(stores, where));
  // The name is part of the URL handed out: another name at the same token is another URL.
  if (!file || file.name !== where.filename) return refuse(req, res, 404, "not found");
  let fh;
  try {
    fh = await open(file.path, "r");
  } catch {
    return refuse(req, res, 404, "not found"); // removed since (expiry, quota, account)
  }
  try {
    const etag = `"${file.token}"`;
    const lastModified = new Date(file.created).toUTCString();
    res.setHeader("ETag", etag);
    res.setHeader("Last-Modified", lastModified);
    res.setHeader("Cache-Control", CACHE_CONTROL);
    if (notModified(req, etag, file.created)) {
      res.writeHead(304);
      return void res.end();
    }
    res.setHeader("Content-Type", file.type);
    res.setHeader("Content-Disposition", contentDisposition(file.type, file.name));
    res.setHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Accept-Ranges", "bytes");
    const range = req.method === "GET" ? wantedRange(req, etag, file) : undefined;
    if (range === "unsatisfiable") {
      res.setHeader("Content-Range", `bytes */${file.size}`);
      return refuse(req, res, 416, "range not satisfiable");
    }
    const [start, end] = range ?? [0, file.size - 1];
    res.setHeader("Content-Length", String(end - start + 1));
    if (range) res.setHeader("Content-Range", `bytes ${start}-${end}/${file.size}`);
    res.writeHead(range ? 206 : 200);
    if (req.method === "HEAD" || file.size === 0) return void res.end();
    await pipeline(fh.createReadStream({ start, end, autoClose: false }), res);
  } finally {
    await fh.close();
  }
}

async function find(stores: Iterable<FileStore>, where: FilePath): Promise<StoredFile | undefined> {
  for (const store of stores) {
    const file = await store.get(where.userdir, where.token);
    if (file) return file;
  }
  return undefined;
}

/** RFC 9110 §13.1.2 If-None-Match, else §13.1.3 If-Modified-Since (one-second precision). */
function notModified(req: IncomingMessage, etag: string, created: number): boolean {
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) {
    return inm.split(",").some((t) => {
      const tag = t.trim().replace(/^W\//, "");
      return tag === "*" || tag === etag;
    });
  }
  const ims = req.headers["if-modified-since"];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(created / 1000) * 1000 <= since;
}

/**
 * The one range asked for, as [first, last] byte positions; undefined for the whole file (no
 * Range, an If-Range that no longer holds, several ranges or a malformed one: RFC 9110 §14.2
 * lets a server ignore those); "unsatisfiable" when no byte of it exists (§15.5.17).
 */
export function wantedRange(
  req: IncomingMessage,
  etag: string,
  file: StoredFile,
): [number, number] | "unsatisfiable" | undefined {
  const header = req.headers.range;
  if (header === undefined) return undefined;
  const ifRange = req.headers["if-range"] as string | undefined;
  if (ifRange !== undefined && ifRange.trim() !== etag) {
    const date = Date.parse(ifRange);
    if (Number.isNaN(date) || Math.floor(file.created / 1000) * 1000 > date) return undefined;
  }
  return parseRange(header, file.size);
}

export function parseRange(
  header: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const m = /^bytes=\s*(\d*)-(\d*)\s*$/.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    // A suffix: the last n bytes (§14.1.2).
    const n = Number(m[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < first) return undefined; // invalid: ignored (§14.1.1)
  if (first >= size) return "unsatisfiable";
  return [first, last];
}
