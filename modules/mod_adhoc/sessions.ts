// The command sessions of XEP-0050 §3.2: each is valid between one requester (a full JID) and
// this host, has an id no one can guess, lives until it completes, is canceled or times out,
// and once ended is remembered for a while so that reusing its id is `session-expired`
// rather than an unknown id.
import { randomBytes } from "node:crypto";
import type { JID, ModuleContext, SubmittedForm } from "../../src/moduleapi.js";

/** One command being run, at one of its stages. */
export interface CommandSession {
  readonly id: string;
  readonly node: string;
  readonly requester: JID;
  /** The stage whose form the requester was shown last. */
  stage: number;
  /** The forms submitted for the stages before `stage`. */
  readonly forms: SubmittedForm[];
  /** What "execute" means now (XEP-0050 §3.3: the <actions execute=…/> last sent). */
  execute: "next" | "complete";
  /** The fields the form shown last requires (XEP-0004 §3.2 <required/>). */
  required: string[];
  readonly lang: string | undefined;
  /** A request of this session is being answered (its stage or completion may wait). */
  busy: boolean;
  cancelTimer: () => void;
}

/** Ended sessions remembered for `session-expired`, at most (the oldest are forgotten). */
const REMEMBERED_ENDINGS = 4096;

export class CommandSessions {
  private readonly open;
  private readonly ended = new Set<string>();

  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly timeoutMs: number,
    private readonly maxPerRequester: number,
  ) {
    // Per bound session of the requester: its command sessions go when it does.
    this.open = ctx.sessionState<Map<string, CommandSession>>();
  }

  /** Starts a session, or returns null when the requester has too many open already. */
  start(requester: JID, node: string, lang: string | undefined): CommandSession | null {
    let mine = this.open.get(requester);
    if (!mine) {
      mine = new Map();
      this.open.set(requester, mine);
    }
    if (mine.size >= this.maxPerRequester) return null;
    const session: CommandSession = {
      id: randomBytes(12).toString("base64url"),
      node,
      requester,
      stage: 0,
      forms: [],
      execute: "complete",
      required: [],
      lang,
      busy: false,
      cancelTimer: () => undefined,
    };
    mine.set(session.id, session);
    this.touch(session);
    return session;
  }

  /** The requester's open session with that id, "expired" if it ended, else undefined. */
  find(requester: JID, id: string): CommandSession | "expired" | undefined {
    const session = this.open.get(requester)?.get(id);
    if (session) return session;
    return this.ended.has(key(requester, id)) ? "expired" : undefined;
  }

  /** The requester acted: the session's time starts again. */
  touch(session: CommandSession): void {
    session.cancelTimer();
    session.cancelTimer = this.ctx.setTimeout(() => this.end(session), this.timeoutMs);
  }

  /** The session completed, was canceled or timed out (XEP-0050 §3.2). */
  end(session: CommandSession): void {
    session.cancelTimer();
    const mine = this.open.get(session.requester);
    if (mine?.get(session.id) === session) {
      mine.delete(session.id);
      // A requester with no local session (over s2s) is never dropped by the session table.
      if (mine.size === 0) this.open.delete(session.requester);
    }
    const k = key(session.requester, session.id);
    this.ended.add(k);
    if (this.ended.size > REMEMBERED_ENDINGS) {
      this.ended.delete(this.ended.values().next().value!);
    }
  }
}

function key(requester: JID, id: string): string {
  return `${requester.toString()} ${id}`;
}
