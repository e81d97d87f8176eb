// mod_http_upload_quota: ejabberd's quota and expiry for mod_http_upload (XEP-0363 §5 leaves
// retention to the service: "user quotas that trigger the deletion of the oldest files when
// exceeded, and automatically deleting files older than a specified timeframe").
//
//   hard_quota/soft_quota  once an upload takes a user over hard_quota bytes, their oldest files
//                          go until they are at or under soft_quota; a slot request that cannot
//                          fit hard_quota beside the user's unused slots is resource-constraint
//   max_days               files older than this are removed, at start and once a day
//
// ejabberd names the quotas through access rules (access_hard_quota: hard_upload_quota, a
// shaper_rules entry giving megabytes per JID); Parley does not evaluate access rules yet, so
// the quotas are given here in bytes, the same for every user: ejabberd's
// `hard_upload_quota: 1100` (MiB) is `hard_quota: 1153433600`.
import { defineModule, opt, OptionError } from "../src/moduleapi.js";
import type { UploadApi } from "./mod_http_upload/index.js";

const DAY_MS = 86_400_000;

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
    access_hard_quota: accessRule("hard_quota"),
    access_soft_quota: accessRule("soft_quota"),
  },
  start(ctx): UploadQuotaApi {
    const upload = ctx.module<UploadApi>("mod_http_upload");
    if (!upload) throw new Error("mod_http_upload does not run on this host");
    const { hard_quota: hard, max_days: days } = ctx.options;
    const soft = Math.min(ctx.options.soft_quota, hard);
    if (Number.isFinite(hard)) {
      upload.setQuota({ hard, soft });
      ctx.onStop(() => upload.setQuota(undefined));
    }
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

/** ejabberd's access_*_quota names an access rule, which Parley does not evaluate yet. */
function accessRule(instead: string) {
  return opt.custom<undefined>(
    "nothing (use " + instead + ")",
    undefined,
    `Not supported: access rules are not evaluated; give ${instead} in bytes`,
    () => {
      throw new OptionError(`access rules are not evaluated yet; give ${instead} in bytes instead`);
    },
  );
}
