// mod_http_upload: XEP-0363 HTTP File Upload, with ejabberd's options. A client asks the service
// at upload.<host> for a slot, PUTs the file to the slot's URL, and shares the GET URL.
//
// Handles:
//   to upload.<host>:  disco#info (§3: store/file identity, the feature, max-file-size form),
//                      disco#items (empty), slot requests (§4, request.ts; errors §6)
//   HTTP (http.ts):    PUT into a slot (§7), GET/HEAD with ranges (serve.ts), CORS (§8);
//                      mounted by a listener's request handler under put_url/get_url's path
//   remove_user        the account's files are deleted (rm_on_unregister)
// Disco: the service is an item of the host (§3: "SHOULD include any known entities").
// Files live on disk under docroot (store.ts); slots in memory (slots.ts). Quotas and expiry
// are mod_http_upload_quota's options, applied through this module's API.
import type { IncomingMessage, ServerResponse } from "node:http";
import { join, resolve } from "node:path";
import { defineModule, KeyedQueue } from "../../src/moduleapi.js";
import { handleUpload, type UploadHttp } from "./http.js";
import { uploadOptions } from "./options.js";
import { enforceQuota, type Quotas } from "./quota.js";
import { serveDomain, type UploadService } from "./service.js";
import { SlotTable } from "./slots.js";
import { FileStore, userdirOf } from "./store.js";

/** How often expired slots are forgotten. */
const SLOT_SWEEP_MS = 60_000;

/**
 * The HTTP side of every host the module runs on: one put_url may serve them all, and the
 * listener hands a request to the handler of the host its Host header names (or the first).
 */
const running = new Set<UploadHttp>();

/** What mod_http_upload tells other modules (ctx.module<UploadApi>("mod_http_upload")). */
export interface UploadApi {
  /** The service's domain (upload.example.org). */
  readonly domain: string;
  /** Where files are stored. */
  readonly docroot: string;
  /** The HTTP side: a request for `path` below the upload prefix ("/<dir>/<token>/<name>"). */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Sets (or with undefined, lifts) the per-user quota (mod_http_upload_quota). */
  setQuota(quotas: Quotas | undefined): void;
  /** Removes this host's files uploaded before `cutoff` (ms); resolves with how many. */
  removeOlderThan(cutoff: number): Promise<number>;
}

export default defineModule({
  name: "mod_http_upload",
  description: "XEP-0363: HTTP File Upload, files stored on disk under docroot",
  options: uploadOptions,
  async start(ctx): Promise<UploadApi> {
    const o = ctx.options;
    const expand = (s: string): string => s.replaceAll("@HOST@", ctx.host);
    const docroot = resolve(o.docroot ? expand(o.docroot) : join(ctx.server.dataDir, "upload"));
    const store = new FileStore(docroot, { file: o.file_mode, dir: o.dir_mode }, ctx.log);
    await store.init();
    const putUrl = expand(o.put_url).replace(/\/+$/, "");
    const up: UploadService = {
      ctx,
      domain: expand(o.host),
      putUrl,
      getUrl: o.get_url ? expand(o.get_url).replace(/\/+$/, "") : putUrl,
      slots: new SlotTable(),
      store,
      quota: undefined,
    };
    serveDomain(up);
    ctx.setInterval(() => up.slots.expire(), SLOT_SWEEP_MS);

    // One quota check at a time per uploader, so two uploads ending together remove once.
    const quotaTurns = new KeyedQueue();
    const http: UploadHttp = {
      host: ctx.host,
      slots: up.slots,
      store,
      customHeaders: o.custom_headers,
      log: ctx.log,
      async onStored(file, owner) {
        const policy = up.quota?.(owner);
        if (!policy) return;
        await quotaTurns.run(file.userdir, () =>
          enforceQuota(store, file.userdir, file.token, policy, ctx.log),
        );
      },
      *peers() {
        yield http;
        for (const peer of running) if (peer !== http) yield peer;
      },
    };
    running.add(http);
    ctx.onStop(() => void running.delete(http));
    // Mounted where request_handlers names mod_http_upload (e.g. /upload: mod_http_upload).
    ctx.httpHandler({ request: (r) => handleUpload(http, r.req, r.res, r.path) });

    ctx.hook("remove_user", async ({ username, host }) => {
      const userdir = userdirOf(`${username}@${host}`);
      up.slots.dropUser(userdir);
      if (o.rm_on_unregister) await store.removeUser(userdir);
    });

    return {
      domain: up.domain,
      docroot,
      handle: (req, res, path) => handleUpload(http, req, res, path),
      setQuota: (quotas) => void (up.quota = quotas),
      removeOlderThan: (cutoff) => store.removeOlderThan(cutoff, ctx.host),
    };
  },
});
