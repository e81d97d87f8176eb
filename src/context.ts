import type { ServerConfig } from "./config/config.js";
import type { Logger } from "./log.js";
import type { SessionManager } from "./sm.js";
import type { Router } from "./router.js";
import type { Hooks } from "./hooks.js";
import type { Accounts } from "./auth/accounts.js";
import type { CertStore } from "./tls.js";
import type { AuthThrottle } from "./auth/throttle.js";
import type { IqHandlers } from "./iq.js";
import type { DiscoRegistry } from "./disco.js";
import type { AdhocRegistry } from "./adhoc.js";
import type { StorageEngine } from "./storage/engine.js";
import type { StreamMgmtOptions } from "./c2s/stream-mgmt.js";
import type { Resumable } from "./c2s/resumable.js";
import type { Metrics } from "./metrics.js";
import type { AdminCommands } from "./admin-commands.js";
import type { Stores } from "./storage/stores.js";
import type { IqRequests } from "./iq-requests.js";
import type { HttpHandlers } from "./http/registry.js";
import type { Bind2InlineFeatures } from "./c2s/bind2-inline.js";
import type { FastOptions, FastTokens } from "./auth/fast-tokens.js";
import type { S2S } from "./s2s/s2s.js";
import type { Backpressure } from "./backpressure.js";
import type { SharedSessionState } from "./session-state.js";
import type { UnackedJournal } from "./c2s/stream-mgmt.js";
import type { ClaimSession } from "./c2s/handover.js";

/** What the core hands to each c2s session: the shared server state, read-mostly. */
export interface CoreContext {
  /** Replaced as a whole by reload_config. */
  config: ServerConfig;
  readonly hosts: Set<string>;
  readonly log: Logger;
  readonly sm: SessionManager;
  readonly router: Router;
  readonly hooks: Hooks;
  readonly iq: IqHandlers;
  readonly accounts: Accounts;
  readonly certs: CertStore;
  readonly throttle: AuthThrottle;
  readonly disco: DiscoRegistry;
  /** XEP-0050 ad-hoc commands modules offer (ctx.adhocCommand), served by mod_adhoc. */
  readonly adhoc: AdhocRegistry;
  readonly storage: StorageEngine;
  readonly startedAt: number;
  /** XEP-0198 settings per host, set by mod_stream_mgmt; absent = not offered. */
  readonly streamMgmt: Map<string, StreamMgmtOptions>;
  readonly metrics: Metrics;
  /** Input backpressure: who waits for whose outbound queue (src/backpressure.ts). */
  readonly backpressure: Backpressure;
  /** Resumable sessions by their resumption id (XEP-0198 §5). */
  readonly resumable: Map<string, Resumable>;
  /** The typed stores (src/storage/stores.ts) of the configured engine. */
  readonly stores: Stores;
  /** Admin commands modules offer to parleyctl (ctx.command). */
  readonly commands: AdminCommands;
  /** IQ requests the server sent (ctx.request), waiting for their answers. */
  readonly requests: IqRequests;
  /** HTTP handlers by name, the core's and the modules' (ctx.httpHandler). */
  readonly http: HttpHandlers;
  /** Features modules let clients enable inside a Bind2 request (ctx.bind2Inline). */
  readonly bind2Inline: Bind2InlineFeatures;
  /** XEP-0484 FAST: on for the hosts mod_auth_fast runs on (ctx.fast), and the token store. */
  readonly fast: { readonly options: Map<string, FastOptions>; readonly tokens: FastTokens };
  /** Server-to-server links (src/s2s). */
  readonly s2s: S2S;
  /** Hosts where mod_s2s_dialback runs (ctx.dialback): XEP-0220 is allowed for them. */
  /** Hosts mod_s2s_dialback runs on, with which remote domains may use dialback there. */
  readonly dialbackHosts: Map<string, (remote: string) => boolean>;
  /** Session state modules share across cluster nodes (ctx.sessionState({ shared: true })). */
  readonly sharedState: SharedSessionState;
  /** Set when clustered: where a stream-managed session keeps a copy of its unacked queue. */
  unackedJournal?: (sid: string) => UnackedJournal;
  /**
   * Set when clustered: asks the node a resumption id names for its session (XEP-0198 §5 on
   * another node); null when that node has no such session for this user.
   */
  claimSession?: ClaimSession;
}
