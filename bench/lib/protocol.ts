// What the load generator's coordinator (pool.ts) and its worker processes (worker.ts) say.
import type { Histogram } from "./stats.js";
import type { BoshEndpoint } from "./bosh-conn.js";
import type { WsEndpoint } from "./ws-conn.js";

/** The benchmark's users: bench0, bench1, ... */
export const userName = (i: number): string => `bench${i}`;
/** Their passwords: distinct per user, so the SCRAM cache cannot share entries between users. */
export const passwordOf = (user: string): string => `pw-${user}-Xk29`;

export type Command =
  /** `ws`: where the server takes XMPP over WebSocket, for logins with `ws` (websocket.ts);
   * `bosh`: where it takes BOSH, for logins with `bosh` (bosh.ts); `domains`: the c2s addresses
   * of the servers of a two-server scenario (s2s.ts), where a user named `name@domain` lives. */
  | {
      op: "init";
      port: number;
      domain: string;
      worker: number;
      ws?: WsEndpoint;
      bosh?: BoshEndpoint;
      domains?: Record<string, { host: string; port: number }>;
    }
  /** In-band registration (XEP-0077), then SCRAM on the same stream: creates the accounts and
   * fills the salted-password cache, as a client that just signed up. */
  | { op: "register"; users: string[]; concurrency: number }
  /** Log in and keep the sessions (initial presence, then a ping round trip); with `ws`, over
   * WebSocket (RFC 7395) instead of TCP; with `bosh`, over BOSH (XEP-0206). */
  | { op: "login"; users: string[]; concurrency: number; ws?: boolean; bosh?: boolean }
  | { op: "closeAll" }
  /** Full logins (TCP, STARTTLS, SCRAM, bind, presence, close) in a loop for durationMs. */
  | { op: "loginLoop"; users: string[]; concurrency: number; durationMs: number }
  /** Each user logs in once over SASL2 with SCRAM and asks for a FAST token (fast-client.ts). */
  | { op: "fastTokens"; users: string[]; concurrency: number }
  /** Logins over SASL2 + Bind2 in a loop, with the token or with SCRAM-SHA-1 (fast-client.ts). */
  | {
      op: "fastLoop";
      users: string[];
      concurrency: number;
      durationMs: number;
      mode: "fast" | "scram";
    }
  /** One step of the one-to-one scenario: each user sends to its partner at `rate` msg/s in total. */
  | { op: "msgStep"; pairs: [string, string][]; rate: number; durationMs: number; drainMs: number }
  /** Online senders send `perPair` messages to each (offline) recipient, then ping (its answer
   * awaited up to pingTimeoutMs, 300 s by default). mam-query fills an archive with it too. */
  | {
      op: "offlineSend";
      sends: [string, string][];
      perPair: number;
      tag: string;
      pingTimeoutMs?: number;
    }
  /** Recipients log in with presence and collect the message ids that arrive. */
  | { op: "offlineCollect"; users: string[]; expect: number; quietMs: number; maxMs: number }
  /** Logged-in users enter a MUC room (`room`: its bare JID) as [user, nick], `concurrency` at a
   * time. With `create`, the one user creates the room and unlocks it as an instant room. */
  | {
      op: "mucJoin";
      room: string;
      joins: [string, string][];
      create: boolean;
      concurrency: number;
      timeoutMs: number;
    }
  /** One step of the room fan-out: `senders` send groupchat messages at `rate` msg/s in total
   * (this worker's share) for durationMs; every occupant of this worker counts the copies it
   * gets. Returns after the window; the counting goes on until mucDrain. */
  | {
      op: "mucStep";
      room: string;
      /** The coordinator's step number, the same in every worker (to tell late copies). */
      step: number;
      senders: string[];
      occupants: string[];
      rate: number;
      durationMs: number;
      /** Upper bound of the messages all workers together send in this step. */
      capacity: number;
      workers: number;
    }
  /** Waits (at most drainMs) until each occupant of this worker has `sent` copies, then reports. */
  | { op: "mucDrain"; sent: number; drainMs: number }
  /** MAM (XEP-0313 §4): logged-in `user` pages through its own archive, one query at a time,
   * `max` a page: from the oldest forward (RSM <after/>) or from the newest backward (<before/>),
   * until a page says complete or comes back empty, maxPages or maxMs. */
  | {
      op: "mamWalk";
      user: string;
      max: number;
      backward: boolean;
      maxPages: number;
      maxMs: number;
    }
  /** MAM: one page per entry, each the `max` messages after an archive id, with or without a
   * `with` filter (§4.1.1). */
  | { op: "mamPages"; user: string; max: number; pages: { after: string; with?: string }[] }
  /** PEP (pep.ts, pep-client.ts): the users' sessions (of "login") take the PEP client's
   * handler: subscription requests approved, roster pushes and disco#info answered. */
  | { op: "pepApprove"; users: number[]; n: number; contacts: number }
  /** Each user (of pepApprove) asks its `contacts` ring neighbours for a presence subscription (RFC 6121 §3.1),
   * `concurrency` users at a time, each until all its contacts approved or timeoutMs. */
  | { op: "pepSubscribe"; concurrency: number; timeoutMs: number }
  /** Each user fetches its roster: every ring neighbour there with subscription both? */
  | { op: "pepRoster"; users: number[] }
  /** Log in with initial presence carrying XEP-0115 caps (+notify for the three nodes). */
  | { op: "pepLogin"; users: number[]; n: number; contacts: number; concurrency: number }
  /** One step: this worker's users publish (round robin, avatar metadata, nick, device list) at
   * `rate`/s for durationMs; its users count the notifications that come. Counting goes on
   * until pepDrain. */
  | {
      op: "pepStep";
      step: number;
      rate: number;
      durationMs: number;
      capacity: number;
      workers: number;
    }
  /** Waits (at most drainMs) until this worker's users have every notification of the step's
   * publishes (`sent`: for each worker, the publisher of each of its publishes), then reports. */
  | { op: "pepDrain"; sent: number[][]; drainMs: number }
  /** Every user (logged in with "login") gets an upload slot from `service` (XEP-0363) and PUTs
   * a file of `size` bytes into it, all at once (upload.ts). */
  | { op: "upload"; users: string[]; service: string; size: number; timeoutMs: number }
  | { op: "shutdown" };

export type ErrorCounts = Record<string, number>;

export interface CommandStats {
  /** Process CPU time of the worker during the command, ms. */
  cpuMs: number;
  /** Event-loop utilization of the worker during the command (0..1); near 1: worker-bound. */
  elu: number;
}

export interface RegisterResult extends CommandStats {
  ok: number;
  existed: number;
  failed: number;
  errors: ErrorCounts;
}

export interface LoginBatchResult extends CommandStats {
  ok: number;
  failed: number;
  errors: ErrorCounts;
  /** Login latencies (TCP connect to bind result), ms. */
  loginMs: number[];
}

export interface LoginLoopResult extends CommandStats {
  /** Logins that reached bind within the window. */
  logins: number;
  /** Whole cycles (through the server's close) finished within the window. */
  cycles: number;
  failed: number;
  errors: ErrorCounts;
  hist: ReturnType<Histogram["toJSON"]>;
  windowMs: number;
}

export interface MsgStepResult extends CommandStats {
  /** Messages the schedule asked for (rate × duration) and those written. */
  offered: number;
  sent: number;
  /** Messages of this step received within the step's window, and in all (window + drain). */
  receivedInWindow: number;
  received: number;
  /** Messages of earlier steps that arrived during this one. */
  late: number;
  bounced: number;
  /** Latencies of every message of this step that arrived, µs. */
  hist: ReturnType<Histogram["toJSON"]>;
  windowMs: number;
  /** Times a connection had over 256 KiB unsent (the server not reading fast enough). */
  backpressured: number;
}

export interface OfflineSendResult extends CommandStats {
  sent: number;
  bounced: number;
  conditions: ErrorCounts;
  /** Wall-clock ms (performance.timeOrigin based) of the first send and the last ping reply. */
  startMs: number;
  endMs: number;
}

export interface OfflineCollectResult extends CommandStats {
  /** Every message id that arrived (repeats kept). */
  ids: string[];
  loginFailed: number;
  errors: ErrorCounts;
  /** Wall-clock ms of the first login start and of the last message received (0 if none). */
  startMs: number;
  lastMs: number;
}

export interface MucJoinResult extends CommandStats {
  joined: number;
  failed: number;
  errors: ErrorCounts;
  /** The creator's own presence had status 201: the room was new (and then unlocked). */
  created: boolean;
  /** Per joiner: ms from its presence to its own presence back (status 110). */
  joinMs: number[];
}

export interface MucSendResult extends CommandStats {
  /** Messages the schedule asked of this worker's senders, and those written. */
  offered: number;
  sent: number;
  windowMs: number;
  /** Times a sender had over 256 KiB unsent (the server not reading fast enough). */
  backpressured: number;
}

export interface MucDrainResult extends CommandStats {
  /** Copies of this step's messages received by this worker's occupants, within the window and
   * in all (window + drain); `distinct` counts each (message, occupant) once. */
  receivedInWindow: number;
  received: number;
  distinct: number;
  /** Copies an occupant got more than once. */
  duplicated: number;
  /** Copies of earlier steps' messages that arrived during this one. */
  late: number;
  /** Errors bounced to this worker's senders, by condition. */
  bounced: number;
  conditions: ErrorCounts;
  /** Latencies of every copy of this step that arrived, µs. */
  hist: ReturnType<Histogram["toJSON"]>;
}

export interface MamPagesResult extends CommandStats {
  /** Queries answered, and the results (archived messages) they brought. */
  pages: number;
  results: number;
  /** Each answered query's latency, from sending it to its IQ result (after its results), µs. */
  hist: ReturnType<Histogram["toJSON"]>;
  /** Queries that failed (an IQ error, a timeout), by reason; they stop a walk. */
  errors: ErrorCounts;
}

export interface MamWalkResult extends MamPagesResult {
  /** Archive ids among the results, each counted once. */
  distinct: number;
  /**
   * Where each page ended (its RSM <last/> forward, <first/> backward), in walk order, with the
   * bare JID of that message's other party ("" if the edge result was not the RSM's).
   */
  marks: { id: string; with: string }[];
  /** Why the walk stopped: the server said complete (§4.3), an empty page, a limit, an error. */
  ended: "complete" | "empty" | "pages" | "time" | "error";
  /** Wall time of the walk, ms. */
  ms: number;
}

export interface PepSubscribeResult extends CommandStats {
  /** Users all of whose contacts approved, and those that timed out. */
  done: number;
  timedOut: number;
  ms: number;
}

export interface PepRosterResult extends CommandStats {
  /** Users whose roster has every ring neighbour with subscription both. */
  ok: number;
  wrong: number;
  /** A few of the wrong ones, for the note. */
  examples: string[];
}

export interface PepStepResult extends CommandStats {
  offered: number;
  sent: number;
  windowMs: number;
  backpressured: number;
  /** The user index of each publish this worker sent, by its running number. */
  publishers: number[];
}

export interface PepDrainResult extends CommandStats {
  /** Notifications this worker's users should get for the step's publishes, and got. */
  expected: number;
  /** Each (publish, recipient) once; of them, those within the window; every copy. */
  distinct: number;
  receivedInWindow: number;
  received: number;
  duplicated: number;
  /** Of them, second copies to the publisher's own resource. */
  duplicatedSelf: number;
  /** Second copies by node: avatar metadata, nick, device list. */
  duplicatedByNode: [number, number, number];
  /** Notifications of earlier steps, and from someone not a ring neighbour (or the user). */
  late: number;
  unexpected: number;
  /** Publish IQs answered with a result, and errors by condition. */
  published: number;
  publishErrors: ErrorCounts;
  /** From each publish sent to each of its notifications, µs. */
  hist: ReturnType<Histogram["toJSON"]>;
}

export interface UploadResult extends CommandStats {
  /** Uploads answered 200/201, and those that failed (by reason). */
  ok: number;
  failed: number;
  errors: ErrorCounts;
  /** Each upload that succeeded: slot request to the PUT's answer, ms. */
  ms: number[];
  /** From this worker's first PUT to its last answer, ms; bytes uploaded. */
  windowMs: number;
  bytes: number;
}

export type Request = { id: number; cmd: Command };
export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
