// The HTTP side of the upload service (XEP-0363 §7): PUT into a slot, GET and HEAD of stored
// files (serve.ts), and CORS preflights for web clients (§8). Plain functions over Node's request
// and response, so any listener can mount them under its path prefix.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../src/moduleapi.js";
import { essence, OCTET_STREAM, parseMediaType } from "./media.js";
import { refuse } from "./reply.js";
import { serveFile } from "./serve.js";
import type { Slot, SlotTable } from "./slots.js";
import {
  BodyAborted,
  isToken,
  isUserdir,
  SizeMismatch,
  type FileStore,
  type StoredFile,
} from "./store.js";

const METHODS = "OPTIONS, HEAD, GET, PUT";

export interface UploadHttp {
  readonly host: string;
  readonly slots: SlotTable;
  readonly store: FileStore;
  /** ejabberd's custom_headers: on every response. */
  readonly customHeaders: Readonly<Record<string, string>>;
  readonly log: Logger;
  /** Called once a file is stored (quotas act on it). */
  onStored(file: StoredFile, owner: string): Promise<void>;
  /**
   * Every host's upload service, this one first: one put_url may serve all hosts, so a request
   * reaching this host's handler may be for a slot or file of another's.
   */
  peers(): Iterable<UploadHttp>;
}

/** Where a URL below the service's prefix points: /<userdir>/<token>/<file name>. */
export interface FilePath {
  readonly userdir: string;
  readonly token: string;
  readonly filename: string;
}

/** Handles one request for a path below the upload prefix (e.g. "/<userdir>/<token>/a.jpg"). */
export async function handleUpload(
  svc: UploadHttp,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  for (const [name, value] of Object.entries(svc.customHeaders)) res.setHeader(name, value);
  // §8: web clients on other origins upload and download too; the URL itself is the secret,
  // no cookie or credential is involved, so any origin may.
  res.setHeader("Access-Control-Allow-Origin", "*");
  try {
    switch (req.method) {
      case "OPTIONS":
        return preflight(res);
      case "PUT":
        return await put(svc, req, res, parsePath(path));
      case "GET":
      case "HEAD":
        return await serveFile(stores(svc), req, res, parsePath(path));
      default:
        res.setHeader("Allow", METHODS);
        return refuse(req, res, 405, "method not allowed");
    }
  } catch (err) {
    svc.log.error({ err, method: req.method }, "upload request failed");
    if (!res.headersSent) refuse(req, res, 500, "internal error");
    else res.destroy();
  }
}

/** The path's three parts, or undefined when it is not one this service hands out. */
export function parsePath(path: string): FilePath | undefined {
  const parts = path.split("?")[0]!.split("/");
  if (parts[0] === "") parts.shift();
  if (parts.length !== 3) return undefined;
  const [userdir, token, encoded] = parts as [string, string, string];
  if (!isUserdir(userdir) || !isToken(token)) return undefined;
  try {
    return { userdir, token, filename: decodeURIComponent(encoded) };
  } catch {
    return undefined;
  }
}

/** The slot's part of a URL: what parsePath reads back. */
export function slotPath(userdir: string, token: string, filename: string): string {
  return `/${userdir}/${token}/${encodeURIComponent(filename)}`;
}

/** The slot of that token and the host service that made it, taken out of its table. */
function takeSlot(svc: UploadHttp, token: string): [Slot, UploadHttp] | undefined {
  for (const peer of svc.peers()) {
    const slot = peer.slots.take(token);
    if (slot) return [slot, peer];
  }
  return undefined;
}

/** Every host's file store, this host's first (several may share one docroot). */
function* stores(svc: UploadHttp): Iterable<FileStore> {
  const seen = new Set<string>();
  for (const peer of svc.peers()) {
    if (seen.has(peer.store.root)) continue;
    seen.add(peer.store.root);
    yield peer.store;
  }
}

function preflight(res: ServerResponse): void {
  res.writeHead(204, {
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
  });
  res.end();
}

/**
 * §7: the PUT is authorised by its slot alone (unexpired, unused, for this path), and must carry
 * the slot's size ("MUST reject the file upload if the Content-Length does not match") and
 * content type ("SHOULD reject the file if the Content-Type has been specified beforehand and
 * does not match"). 201 only once the file is safely on disk.
 */
async function put(
  svc: UploadHttp,
  req: IncomingMessage,
  res: ServerResponse,
  where: FilePath | undefined,
): Promise<void> {
  const [slot, maker] = (where && takeSlot(svc, where.token)) ?? [];
  if (
    !slot ||
    !maker ||
    !where ||
    slot.userdir !== where.userdir ||
    slot.filename !== where.filename
  ) {
    return refuse(req, res, 403, "no valid upload slot for this URL");
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined) {
    const n = Number(declared);
    if (n > slot.size) return refuse(req, res, 413, `the slot is for ${slot.size} bytes`);
    if (n !== slot.size) return refuse(req, res, 400, `the slot is for ${slot.size} bytes`);
  }
  const sent = req.headers["content-type"];
  const given = sent === undefined ? undefined : parseMediaType(sent);
  if (slot.contentType !== undefined && (!given || essence(given) !== essence(slot.contentType))) {
    return refuse(req, res, 415, `the slot is for ${slot.contentType}`);
  }
  // §7: "MAY assume application/octet-stream" for a slot that named no type.
  const type = slot.contentType ?? given ?? OCTET_STREAM;
  let file: StoredFile;
  try {
    file = await maker.store.write(
      slot.userdir,
      slot.token,
      {
        name: slot.filename,
        type,
        size: slot.size,
        created: Date.now(),
        owner: slot.owner,
        host: maker.host,
      },
      req,
    );
  } catch (err) {
    if (err instanceof SizeMismatch) {
      return refuse(req, res, err.tooLarge ? 413 : 400, err.message);
    }
    if (err instanceof BodyAborted) {
      // The client went away mid-upload; nothing was stored and nobody is left to answer.
      return void res.destroy();
    }
    throw err;
  }
  svc.log.info({ owner: slot.owner, size: slot.size, type }, "file uploaded");
  // The quota is applied before the answer, so what the client sees next is already the
  // outcome; the file itself is stored either way.
  await maker
    .onStored(file, slot.owner)
    .catch((err: unknown) => svc.log.error({ err }, "quota check failed"));
  res.writeHead(201, { "Content-Length": "0" });
  res.end();
}
