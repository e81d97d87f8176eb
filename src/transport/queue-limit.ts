import type { Logger } from "../log.js";
import type { Transport } from "./transport.js";

/**
 * The design's health rule, checked every second by the server (a burst written within one tick
 * is no backlog): a peer that does not read is cut off once its queue passes max_fsm_queue
 * (ejabberd's name). True, with a warning logged, when `queuedStanzas` is over `limit` and
 * bytes still wait for the kernel; the caller then drops the connection.
 */
export function overQueueLimit(
  t: Pick<Transport, "queuedBytes">,
  queuedStanzas: number,
  limit: number,
  log: Logger,
): boolean {
  if (queuedStanzas <= limit || t.queuedBytes === 0) return false;
  log.warn(
    { queuedStanzas, queuedBytes: t.queuedBytes },
    "outbound queue over max_fsm_queue; closing the session",
  );
  return true;
}
