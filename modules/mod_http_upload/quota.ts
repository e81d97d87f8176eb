// Per-user disk quotas (ejabberd's mod_http_upload_quota, XEP-0363 §5's "user quotas that trigger
// the deletion of the oldest files when exceeded"): once an upload takes a user over the hard
// quota, their oldest files go until they are at or under the soft quota. The file just stored
// always stays: the client was told 201 for it.
import type { Logger } from "../../src/moduleapi.js";
import type { FileStore } from "./store.js";

export interface QuotaPolicy {
  /** Bytes a user may have stored (and held by unused slots) before the oldest files go. */
  readonly hard: number;
  /** Bytes a user is brought back to once over the hard quota. */
  readonly soft: number;
}

/** Each uploader's quota (by bare JID), or undefined for none: quotas may differ per user. */
export type Quotas = (owner: string) => QuotaPolicy | undefined;

/** Resolves with how many files were removed. */
export async function enforceQuota(
  store: FileStore,
  userdir: string,
  keep: string,
  policy: QuotaPolicy,
  log: Logger,
): Promise<number> {
  let bytes = await store.bytes(userdir);
  if (bytes <= policy.hard) return 0;
  let removed = 0;
  for (const [token, meta] of await store.files(userdir)) {
    if (bytes <= policy.soft) break;
    if (token === keep) continue;
    await store.remove(userdir, token);
    bytes -= meta.size;
    removed++;
  }
  log.info({ userdir, removed, bytes }, "over the hard upload quota: oldest files removed");
  return removed;
}
