// mod_stream_mgmt: XEP-0198 Stream Management. The counting, acking and resumption live in
// the c2s core (src/c2s/stream-mgmt.ts, src/c2s/session.ts) because they sit on every stanza;
// this module switches them on per host with ejabberd's option names.
import { defineModule, opt, OptionError } from "../src/moduleapi.js";

export default defineModule({
  name: "mod_stream_mgmt",
  description: "XEP-0198: acknowledgements and session resumption, nothing lost on a dropped link",
  options: {
    max_ack_queue: opt.integer(
      5000,
      "unacknowledged stanzas allowed before the session is closed",
      {
        min: 1,
      },
    ),
    resume_timeout: opt.integer(300, "seconds a dropped session waits to be resumed", { min: 0 }),
    max_resume_timeout: opt.integer(300, "upper bound for the resumption time a client asks for", {
      min: 0,
    }),
    ack_timeout: opt.integer(
      60,
      "seconds to wait for an <a/> before the connection counts as dead",
      {
        min: 1,
      },
    ),
    resend_on_timeout: {
      ...opt.custom<boolean | "if_offline">(
        "true, false or if_offline",
        true,
        "ejabberd's choice for unacknowledged messages of a session that times out; Parley's is true",
        parseResend,
      ),
      notice: resendNotice,
    },
  },
  start(ctx) {
    const o = ctx.options;
    ctx.streamManagement({
      maxAckQueue: o.max_ack_queue,
      resumeTimeout: o.resume_timeout,
      maxResumeTimeout: Math.max(o.max_resume_timeout, o.resume_timeout),
      ackTimeout: o.ack_timeout,
    });
  },
});

function parseResend(v: unknown): boolean | "if_offline" {
  if (v === true || v === false || v === "if_offline") return v;
  throw new OptionError(`expected true, false or if_offline, got ${JSON.stringify(v)}`);
}

/**
 * Parley does what ejabberd's `true` does: a session that ends (resumption timed out, or
 * closed) sends its unacknowledged messages back to routing for the user's bare JID, so they
 * reach another resource or offline storage; nothing acknowledged to a sender is lost.
 */
function resendNotice(v: unknown): string | undefined {
  const does =
    "Parley always routes a timed-out session's unacknowledged messages again, to another resource or to offline storage (ejabberd's true)";
  if (v === false) return `${does}; it never bounces them with an error as false asks`;
  if (v === "if_offline") {
    return `${does}; with another resource online they go to it, where if_offline would bounce them with an error`;
  }
  return undefined;
}
