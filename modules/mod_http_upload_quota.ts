// mod_http_upload_quota: ejabberd's quota and expiry for mod_http_upload (XEP-0363 §5 leaves
// retention to the service: "user quotas that trigger the deletion of the oldest files when
// exceeded, and automatically deleting files older than a specified timeframe").
//
//   hard_quota/soft_quota  once an upload takes a user over hard_quota bytes, their oldest files
//                          go until they are at or under soft_quota; a slot request that cannot
//                          fit hard_quota beside the user's unused slots is resource-constraint
//   max_days               files older than this are removed, at start and once a day
//
// ejabberd gives the quotas per user through shaper rules: access_hard_quota names one
// (default hard_upload_quota) whose value for the uploader is a number of MiB, and so does
// access_soft_quota (soft_upload_quota). Where no such rule gives a number, Parley's own
// hard_quota / soft_quota (bytes, the same for everyone) apply.
import { defineModule, opt, parseJID } from "../src/moduleapi.js";
import type { UploadApi } from "./mod_http_upload/index.js";

const DAY_MS = 86_400_000;
/** ejabberd's quota rules count mebibytes. */
const MIB = 1024 * 1024;

export interface UploadQuotaApi {
  /** Removes files older than max_days now (also done daily); resolves with how many. */
  expire(): Promise<number>;
}

export default defineModule({
  name: "mod_http_upload_quota",
  description: "Quotas and expiry for mod_http_upload's files",
  dependencies: { hard: ["mod_http_upload"] },
  options: {
    max_days: opt.integer(Infinity, "Days a file is kept, or infinity", { min: 1, infinity: true }),
    hard_quota: opt.integer(
      Infinity,
      "Bytes one user may store before the oldest files go, or infinity",
      {
        min: 1,
        infinity: true,
      },
    ),
    soft_quota: opt.integer(
      Infinity,
      "Bytes a user over the hard quota is brought back to; default: hard_quota",
      {
        min: 0,
        infinity: true,
      },
    ),
    access_hard_quota: opt.shaperRule(
      "hard_upload_quota",
      "The shaper rule giving each user's hard quota in MiB (ejabberd's); else hard_quota",
    ),
    access_soft_quota: opt.shaperRule(
      "soft_upload_quota",
      "The shaper rule giving each user's soft quota in MiB (ejabberd's); else soft_quota",
    ),
  },
  start(ctx): UploadQuotaApi {
    const upload = ctx.module<UploadApi>("mod_http_upload");
    if (!upload) throw new Error("mod_http_upload does not run on this host");
    const { max_days: days } = ctx.options;
    const o = ctx.options;
    upload.setQuota((owner) => {
      const jid = parseJID(owner);
      const hard = ctx.limit(o.access_hard_quota, jid, o.hard_quota / MIB) * MIB;
      if (!Number.isFinite(hard)) return undefined;
      const soft = ctx.limit(o.access_soft_quota, jid, o.soft_quota / MIB) * MIB;
      return { hard, soft: Math.min(soft, hard) };
    });
    ctx.onStop(() => upload.setQuota(undefined));
    const expire = async (): Promise<number> => {
      if (!Number.isFinite(days)) return 0;
      const removed = await upload.removeOlderThan(Date.now() - days * DAY_MS);
      if (removed > 0) ctx.log.info({ removed, max_days: days }, "expired uploads removed");
      return removed;
    };
    const run = (): void =>
      void expire().catch((err: unknown) => ctx.log.error({ err }, "could not expire uploads"));
    if (Number.isFinite(days)) {
      run();
      ctx.setInterval(run, DAY_MS);
    }
    return { expire };
  },
});
