// mod_stream_mgmt: XEP-0198 Stream Management. The counting, acking and resumption live in
// the c2s core (src/c2s/stream-mgmt.ts, src/c2s/session.ts) because they sit on every stanza;
// this module switches them on per host with ejabberd's option names.
import { defineModule, opt } from "../src/moduleapi.js";

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
