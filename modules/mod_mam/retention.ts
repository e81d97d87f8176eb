// How long archived messages are kept: `archive_expires_after` (seconds) has a background job
// delete older entries of the accounts' archives in bounded steps, and `parleyctl
// delete_old_mam_messages TYPE DAYS` (ejabberdctl's command) does it on demand, for the rooms'
// archives too.
import { AdminCommandError, type ArchiveStore, type ModuleContext } from "../../src/moduleapi.js";

/** mod_muc's API, as far as the rooms' archives need it (modules/mod_muc/index.ts, MucApi). */
interface MucApi {
  /** The MUC service's domain: a room's archive is owned by room@domain. */
  readonly domain: string;
}

/** Entries deleted per statement: one step never holds the database for long. */
const STEP = 1000;
/** Steps per run of the job (100,000 entries); what is left waits for the next run. */
const STEPS_PER_RUN = 100;
/** How often the job runs. */
const EVERY_MS = 10 * 60 * 1000;

/** Deletes the entries older than `cutoff` of the archives at `domain`, step by step. */
async function expire(archive: ArchiveStore, domain: string, cutoff: number, steps: number) {
  let total = 0;
  for (let i = 0; i < steps; i++) {
    const n = await archive.deleteOlderThan(domain, cutoff, STEP);
    total += n;
    if (n < STEP) break;
    // Let the messages waiting to be archived and delivered go first.
    await new Promise((r) => setImmediate(r));
  }
  return total;
}

export function startRetention(
  ctx: ModuleContext<unknown>,
  archive: ArchiveStore,
  expiresAfterSeconds: number,
): void {
  if (Number.isFinite(expiresAfterSeconds)) {
    let running = false;
    const run = (): void => {
      if (running) return;
      running = true;
      expire(archive, ctx.host, Date.now() - expiresAfterSeconds * 1000, STEPS_PER_RUN)
        .then((n) => n > 0 && ctx.log.info({ deleted: n }, "expired archived messages"))
        .catch((err: unknown) => ctx.log.error({ err }, "could not expire archived messages"))
        .finally(() => {
          running = false;
        });
    };
    ctx.setTimeout(run, 1000);
    ctx.setInterval(run, EVERY_MS);
  }

  // ejabberdctl's delete_old_mam_messages TYPE DAYS: TYPE chat is the host's accounts'
  // archives, groupchat the archives of the rooms of its MUC service (mod_muc keeps them; none
  // without it), all both. As in ejabberd, this command is the only expiry of rooms' archives.
  ctx.command("delete_old_mam_messages", {
    args: ["TYPE", "DAYS"],
    help: "Delete archived messages (TYPE chat, groupchat or all) older than DAYS days; print how many",
    run: async ([type, days]) => {
      if (type !== "chat" && type !== "groupchat" && type !== "all") {
        throw new AdminCommandError("TYPE must be chat, groupchat or all", true);
      }
      if (!/^\d+$/.test(days!)) {
        throw new AdminCommandError("DAYS must be a whole number of days (0 or more)", true);
      }
      const cutoff = Date.now() - Number(days) * 24 * 60 * 60 * 1000;
      const muc = ctx.module<MucApi>("mod_muc");
      const domains = [
        ...(type === "groupchat" ? [] : [ctx.host]),
        ...(type === "chat" || !muc ? [] : [muc.domain]),
      ];
      let total = 0;
      for (const domain of domains) total += await expire(archive, domain, cutoff, Infinity);
      return String(total);
    },
  });
}
