// What the BOSH connection manager needs from the HTTP side and from the clock. The state
// machine knows nothing of Node's http module: the HTTP front (http.ts) and the unit tests both
// hand it requests through these interfaces.

/** The answer to one HTTP request, given exactly once. */
export interface BoshReply {
  /**
   * Answers with 200 and `body` (or `status` for a legacy client's error, XEP-0124 §17.1). The
   * callback runs once the response was written out, with an error if it never will be.
   */
  send(body: string, contentType: string, cb?: (err?: Error | null) => void, status?: number): void;
  /** Closes the HTTP connection without an answer (XEP-0124 §19.1: a secure session's request in the clear). */
  abort(): void;
  /** `listener` hears if the client's connection goes before the answer is given. */
  onAbort(listener: AbortListener): void;
}

/**
 * Hears of requests whose client went away unanswered: one object (a session's) for all its
 * requests, so that a held request costs no closure.
 */
export interface AbortListener {
  aborted(reply: BoshReply): void;
}

/** Where a request came from. */
export interface BoshConnection {
  /** Over HTTPS. */
  secure: boolean;
  remoteAddress: string;
  /** Bytes of one stanza in a body: the listener's max_stanza_size (RFC 6120 §13.12). */
  maxStanzaSize: number;
}

/** A timer handle of the clock. */
export interface ClockTimer {
  unref?(): unknown;
}

/** Time and timers, so the state machine can be tested on a clock the test moves. */
export interface BoshClock {
  now(): number;
  setTimer(fn: () => void, ms: number): ClockTimer;
  clearTimer(t: ClockTimer): void;
}

export const systemClock: BoshClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
};

/** The connection manager's limits, in seconds (XEP-0124 §7.2), from mod_bosh's options. */
export interface BoshLimits {
  /** The longest `wait` granted, whatever the client asks. */
  maxWait: number;
  /** The most requests held at once (`hold`); `requests` is one more. */
  maxHold: number;
  /** `inactivity`: ejabberd's max_inactivity. */
  inactivity: number;
  /** `maxpause` (XEP-0124 §10): ejabberd's max_pause; 0 turns pausing off. */
  maxPause: number;
  /** `polling`: the shortest interval between empty requests (XEP-0124 §11, §12). */
  polling: number;
  /** ejabberd's max_concat: the most payloads one answer carries; the rest wait for the next. */
  maxConcat: number;
}

export const DEFAULT_LIMITS: BoshLimits = {
  maxWait: 120,
  maxHold: 1,
  inactivity: 30,
  maxPause: 120,
  polling: 2,
  maxConcat: Infinity,
};
