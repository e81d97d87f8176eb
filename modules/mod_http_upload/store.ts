// The files of the upload service on disk. One fixed layout, built only from names this module
// made itself (checked again here before any path is formed), so no request can reach outside
// the docroot (XEP-0363 §9.1):
//
//   <docroot>/<userdir>/<token>/file        the uploaded bytes
//   <docroot>/<userdir>/<token>/meta.json   name, type, size, upload time, uploader, host
//   <docroot>/.tmp/<token>/                  an upload on its way; renamed into place whole
//
// <userdir> is the SHA-1 of the uploader's bare JID (ejabberd's jid_in_url: sha1), so a removed
// account's files are one directory; <token> is the slot's random part. The disk is the record of
// who stored what: the per-user usage that quotas need is read from it once and then kept up to
// date in memory, so it can never drift from the files themselves.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../../src/moduleapi.js";

const USERDIR = /^[0-9a-f]{40}$/;
const TOKEN = /^[A-Za-z0-9]{8,128}$/;
const TMP = ".tmp";
/** A staging directory older than this was left by a crash. */
const STALE_STAGING_MS = 3_600_000;

export interface FileMeta {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  /** Upload time, ms since the epoch. */
  readonly created: number;
  readonly owner: string;
  readonly host: string;
}

export interface StoredFile extends FileMeta {
  readonly userdir: string;
  readonly token: string;
  /** Where the bytes are. */
  readonly path: string;
}

/** A body that did not have the slot's size: more bytes than announced, or fewer. */
export class SizeMismatch extends Error {
  constructor(readonly tooLarge: boolean) {
    super(tooLarge ? "more bytes than the slot's size" : "fewer bytes than the slot's size");
  }
}

/** The body ended before all its bytes came (the client went away). */
export class BodyAborted extends Error {
  constructor() {
    super("the upload was cut off");
  }
}

export function userdirOf(bareJid: string): string {
  return createHash("sha1").update(bareJid).digest("hex");
}

export function isUserdir(s: string): boolean {
  return USERDIR.test(s);
}

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

export class FileStore {
  /** Per uploader: token -> size and upload time, loaded from disk on first need. */
  private readonly usage = new Map<string, Promise<Map<string, FileMeta>>>();

  constructor(
    readonly root: string,
    private readonly modes: { file?: number; dir?: number },
    private readonly log: Logger,
  ) {}

  /** Creates the docroot and clears staging directories a crash left behind. */
  async init(now = Date.now()): Promise<void> {
    await this.mkdir(this.root);
    await this.mkdir(join(this.root, TMP));
    for (const name of await readdir(join(this.root, TMP))) {
      const path = join(this.root, TMP, name);
      const st = await stat(path).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_STAGING_MS)
        await rm(path, { recursive: true, force: true });
    }
  }

  /**
   * Streams `body` to disk as the file of slot `token`: exactly `meta.size` bytes (else
   * SizeMismatch, as soon as a byte too many arrives; BodyAborted if it stops short), synced to disk and renamed into place
   * whole before this resolves, so a 201 is never sent for a file a crash could lose. Memory
   * stays bounded whatever the size: the body flows through with backpressure.
   */
  async write(userdir: string, token: string, meta: FileMeta, body: Readable): Promise<StoredFile> {
    const final = this.entryDir(userdir, token);
    const staging = join(this.root, TMP, checked(token, TOKEN));
    await this.mkdir(staging);
    try {
      // flush: fsync before the stream closes, and the copy ends only once it closed.
      const sink = createWriteStream(join(staging, "file"), {
        flags: "wx",
        mode: this.modes.file ?? 0o644,
        flush: true,
      });
      await copyExactly(body, sink, meta.size);
      await this.writeSynced(join(staging, "meta.json"), JSON.stringify(meta));
      if (this.modes.file !== undefined) {
        // The umask may have taken bits the operator asked for.
        await chmod(join(staging, "file"), this.modes.file);
        await chmod(join(staging, "meta.json"), this.modes.file);
      }
      await this.mkdir(join(this.root, userdir));
      await rename(staging, final);
      await syncDir(join(this.root, userdir));
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    (await this.filesOf(userdir)).set(token, meta);
    return { ...meta, userdir, token, path: join(final, "file") };
  }

  /** The stored file of a slot, or undefined (also for names this store never makes). */
  async get(userdir: string, token: string): Promise<StoredFile | undefined> {
    if (!isUserdir(userdir) || !isToken(token)) return undefined;
    const dir = this.entryDir(userdir, token);
    const meta = await readMeta(join(dir, "meta.json"));
    return meta && { ...meta, userdir, token, path: join(dir, "file") };
  }

  /** The uploader's stored files (token -> meta), oldest first. */
  async files(userdir: string): Promise<[string, FileMeta][]> {
    return [...(await this.filesOf(userdir))].sort((a, b) => a[1].created - b[1].created);
  }

  /** Bytes the uploader has stored. */
  async bytes(userdir: string): Promise<number> {
    let sum = 0;
    for (const meta of (await this.filesOf(userdir)).values()) sum += meta.size;
    return sum;
  }

  async remove(userdir: string, token: string): Promise<void> {
    await rm(this.entryDir(userdir, token), { recursive: true, force: true });
    (await this.filesOf(userdir)).delete(token);
  }

  /** Every file of one uploader, with their directory. */
  async removeUser(userdir: string): Promise<void> {
    await rm(join(this.root, checked(userdir, USERDIR)), { recursive: true, force: true });
    this.usage.delete(userdir);
  }

  /**
   * Removes the files `host`'s service stored before `cutoff` (ejabberd's max_days), and
   * uploaders' directories left empty; resolves with how many files went. A docroot shared by
   * several hosts is walked by each, and each removes only its own files.
   */
  async removeOlderThan(cutoff: number, host: string): Promise<number> {
    let removed = 0;
    for (const userdir of await listDir(this.root)) {
      if (!isUserdir(userdir)) continue;
      for (const [token, meta] of await this.files(userdir)) {
        if (meta.host !== host || meta.created >= cutoff) continue;
        await this.remove(userdir, token);
        removed++;
      }
      if ((await listDir(join(this.root, userdir))).length === 0) {
        await rm(join(this.root, userdir), { recursive: true, force: true });
        this.usage.delete(userdir);
      }
    }
    return removed;
  }

  private filesOf(userdir: string): Promise<Map<string, FileMeta>> {
    let loaded = this.usage.get(userdir);
    if (!loaded) {
      loaded = this.load(userdir);
      this.usage.set(userdir, loaded);
      // A failed read is tried again next time rather than remembered.
      loaded.catch(() => this.usage.delete(userdir));
    }
    return loaded;
  }

  private async load(userdir: string): Promise<Map<string, FileMeta>> {
    const out = new Map<string, FileMeta>();
    for (const token of await listDir(join(this.root, checked(userdir, USERDIR)))) {
      if (!isToken(token)) continue;
      const meta = await readMeta(join(this.root, userdir, token, "meta.json"));
      if (meta) out.set(token, meta);
      else this.log.warn({ userdir, token }, "upload without readable meta.json left alone");
    }
    return out;
  }

  private entryDir(userdir: string, token: string): string {
    return join(this.root, checked(userdir, USERDIR), checked(token, TOKEN));
  }

  private async mkdir(path: string): Promise<void> {
    const made = await mkdir(path, { recursive: true, mode: this.modes.dir ?? 0o755 });
    if (made !== undefined && this.modes.dir !== undefined) await chmod(path, this.modes.dir);
  }

  private async writeSynced(path: string, text: string): Promise<void> {
    const fh = await open(path, "wx", this.modes.file ?? 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/**
 * Copies exactly `size` bytes of `body` into `sink`, with backpressure. On a size mismatch the
 * body is left alone (unpiped, not destroyed), so the caller can still answer on its connection.
 */
async function copyExactly(body: Readable, sink: Writable, size: number): Promise<void> {
  let seen = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > size) done(new SizeMismatch(true));
      else done(null, chunk);
    },
  });
  const cutOff = (): void => {
    if (!body.readableEnded) count.destroy(new BodyAborted());
  };
  const failed = (err: Error): void => void count.destroy(err);
  body.on("close", cutOff);
  body.on("error", failed);
  body.pipe(count);
  try {
    await pipeline(count, sink);
  } finally {
    body.unpipe(count);
    body.off("close", cutOff);
    body.off("error", failed);
  }
  if (seen !== size) throw new SizeMismatch(false);
}

/** A name this store made, or an error: the one guard between input and a path. */
function checked(name: string, pattern: RegExp): string {
  if (!pattern.test(name))
    throw new Error(`not a name of the upload store: ${JSON.stringify(name)}`);
  return name;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function readMeta(path: string): Promise<FileMeta | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Partial<FileMeta>;
    const ok =
      typeof m.name === "string" &&
      typeof m.type === "string" &&
      typeof m.size === "number" &&
      typeof m.created === "number" &&
      typeof m.owner === "string" &&
      typeof m.host === "string";
    return ok ? (m as FileMeta) : undefined;
  } catch {
    return undefined;
  }
}

/** fsync on the directory, so a rename into it survives power loss. */
async function syncDir(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
