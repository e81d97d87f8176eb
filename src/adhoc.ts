/**
 * XEP-0050 ad-hoc commands that modules offer (ctx.adhocCommand), per host: mod_adhoc lists and
 * runs them; mod_configure (XEP-0133 administration), mod_announce and third-party modules add
 * them. The registry lives in the core, like the disco registry, so that a command outlives a
 * reload of mod_adhoc and goes away with the module that offered it.
 */
import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { MaybePromise } from "./maybe.js";
import type { SubmittedForm } from "./xmpp/forms.js";

/** XEP-0050 §4.3: a note shown with a stage or the outcome. */
export interface AdhocNote {
  type: "info" | "warn" | "error";
  text: string;
}

/** One run of a command, as far as its stages and its completion see it. */
export interface AdhocRun {
  /** Who runs it (the full JID of the requester). */
  readonly from: JID;
  /** The forms submitted so far, one per stage already passed, in stage order. */
  readonly forms: readonly SubmittedForm[];
  /** The requester's xml:lang (XEP-0050 §3.6), if it gave one. */
  readonly lang: string | undefined;
}

/** One stage of a command: the data form (XEP-0004) the requester fills in. */
export interface AdhocStage {
  /**
   * The form of type "form" shown at this stage. Its `<required/>` fields must come back with
   * a value (mod_adhoc checks that, answering bad-payload); a stage may use earlier forms.
   */
  form(run: AdhocRun): MaybePromise<Element>;
}

/** What a completed command shows (XEP-0050 §3.5): a result form and/or notes. */
export interface AdhocOutcome {
  form?: Element;
  notes?: AdhocNote[];
}

export interface AdhocCommand {
  /** The command's node (XEP-0050 §3.1), unique on the host. */
  readonly node: string;
  /** Its human-readable name in the command list (disco#items, XEP-0050 §2.2). */
  readonly name: string;
  /**
   * Whether `requester` may see and run the command; usually `ctx.allowed(rule, requester)`.
   * Others do not see it listed and get `forbidden` when they try (XEP-0050 §4.4).
   */
  allowed(requester: JID): boolean;
  /**
   * The forms asked one after the other (a wizard, XEP-0050 §3.3): the requester moves on with
   * "next", back with "prev", and finishes at the last one with "complete". None: the command
   * completes at once.
   */
  readonly stages?: readonly AdhocStage[];
  /**
   * Does the work once the last stage's form is submitted (or at once, with no stages). A
   * thrown StanzaError is the answer (XEP-0133 §5: `conflict` for an existing user…); one of
   * type "modify" (bad-request, not-acceptable, jid-malformed) leaves the session at its last
   * stage so that the form can be corrected and sent again.
   */
  complete(run: AdhocRun): MaybePromise<AdhocOutcome | void>;
}

/** The commands of every host. */
export class AdhocRegistry {
  private readonly entries: { host: string; command: AdhocCommand }[] = [];

  /** Adds a command; throws if the host already has one at that node. Returns its removal. */
  add(host: string, command: AdhocCommand): () => void {
    if (this.get(host, command.node)) {
      throw new Error(`an ad-hoc command with node '${command.node}' exists on ${host}`);
    }
    const entry = { host, command };
    this.entries.push(entry);
    return () => {
      const i = this.entries.indexOf(entry);
      if (i >= 0) this.entries.splice(i, 1);
    };
  }

  /** The host's commands, in the order they were offered. */
  of(host: string): AdhocCommand[] {
    return this.entries.filter((e) => e.host === host).map((e) => e.command);
  }

  get(host: string, node: string): AdhocCommand | undefined {
    return this.entries.find((e) => e.host === host && e.command.node === node)?.command;
  }
}
