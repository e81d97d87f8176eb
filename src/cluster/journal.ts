import type { Element } from "@xmpp/xml";
import type { UnackedJournal } from "../c2s/stream-mgmt.js";
import type { Logger } from "../log.js";
import { keys } from "./keys.js";
import type { RedisClient } from "./redis.js";

/**
 * A stream-managed session's unacknowledged queue, mirrored in a Redis list (keys.unacked): the
 * same length as the queue, a message's XML where it must survive the node, "" elsewhere (what
 * is not worth routing again, or what its tracker's owner keeps). Commands go out on one
 * connection in order, pipelined by the client within a tick.
 */
export function redisJournal(
  redis: RedisClient,
  node: string,
  sid: string,
  log: Logger,
): UnackedJournal {
  const key = keys.unacked(node, sid);
  const failed = (err: unknown): void => {
    log.warn({ err, sid }, "cannot update the cluster copy of an unacknowledged queue");
  };
  return {
    pushed(stanza: Element, keep: boolean): void {
      redis.rPush(key, keep ? stanza.toString() : "").catch(failed);
    },
    acked(count: number): void {
      redis.lTrim(key, count, -1).catch(failed);
    },
    cleared(): void {
      redis.del(key).catch(failed);
    },
  };
}
