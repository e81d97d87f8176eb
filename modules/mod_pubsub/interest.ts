// PEP's implicit subscriptions (XEP-0163 §4): the resources that share presence with an account
// (its contacts' and its own), each with the features its client announced in XEP-0115 caps.
// A resource wants a node's notifications when its features include "<node>+notify"
// (XEP-0060 §9.2 filtered notifications). Learnt from presence; a resource's first available
// presence is its "initial presence", on which the last published items go to it (§4.3.4).
import type { Element, JID } from "../../src/moduleapi.js";
import type { InterestView } from "./notify.js";

const NS_CAPS = "http://jabber.org/protocol/caps";

/** What mod_caps offers: the verified features behind a presence's caps. */
export interface CapsView {
  resolve(jid: string, c: Element): Promise<ReadonlySet<string> | undefined>;
}

interface Resource {
  /** The caps ver its latest presence carried ("" without caps). */
  ver: string;
  /** Verified features; empty until resolved (or with no caps: it then wants nothing). */
  features: ReadonlySet<string>;
}

const NOTHING: ReadonlySet<string> = new Set();

export class Interest implements InterestView {
  /** Owner's bare JID -> full JID of a resource sharing presence -> what it wants. */
  private readonly owners = new Map<string, Map<string, Resource>>();

  constructor(
    private readonly caps: () => CapsView | undefined,
    /** A resource became available, or its wishes became known: send it the last items. */
    private readonly onInitial: (
      owner: string,
      full: string,
      features: ReadonlySet<string>,
    ) => void,
    private readonly onError: (err: unknown, full: string) => void,
  ) {}

  interested(owner: string, node: string): string[] {
    const want = `${node}+notify`;
    const out: string[] = [];
    for (const [full, r] of this.owners.get(owner) ?? []) if (r.features.has(want)) out.push(full);
    return out;
  }

  /** The resources of `contact` (a bare JID) known to share presence with `owner`. */
  resourcesOf(owner: string, contact: string): { full: string; features: ReadonlySet<string> }[] {
    const out: { full: string; features: ReadonlySet<string> }[] = [];
    for (const [full, r] of this.owners.get(owner) ?? []) {
      if (full.startsWith(`${contact}/`)) out.push({ full, features: r.features });
    }
    return out;
  }

  /** Presence from `from` (a full JID) that reached the account `owner` (its bare JID). */
  presence(owner: string, from: JID, stanza: Element): void {
    const type = stanza.attrs.type;
    const full = from.toString();
    if (type === "unavailable") return this.forget(owner, full);
    if (type !== undefined || !from.resource) return;
    let resources = this.owners.get(owner);
    if (!resources) this.owners.set(owner, (resources = new Map()));
    const known = resources.get(full);
    const c = stanza.getChild("c", NS_CAPS);
    const ver = c && c.attrs.hash !== undefined ? String(c.attrs.ver ?? "") : "";
    if (known && known.ver === ver) return; // not initial, nothing new (§4.3.2 note)
    const entry: Resource = { ver, features: known?.features ?? NOTHING };
    resources.set(full, entry);
    const caps = this.caps();
    if (!c || ver === "" || !caps) {
      if (!known) this.onInitial(owner, full, entry.features);
      return;
    }
    caps.resolve(full, c).then(
      (features) => {
        // Gone (or changed again) while we asked: that presence decides.
        if (this.owners.get(owner)?.get(full) !== entry) return;
        entry.features = features ?? NOTHING;
        // The last items go out once per initial presence; a new ver adds nodes to hear from.
        this.onInitial(
          owner,
          full,
          known ? newWishes(known.features, entry.features) : entry.features,
        );
      },
      (err: unknown) => this.onError(err, full),
    );
  }

  forget(owner: string, full: string): void {
    const resources = this.owners.get(owner);
    if (!resources) return;
    resources.delete(full);
    if (resources.size === 0) this.owners.delete(owner);
  }

  /** Drops an account's table (the account was removed). */
  forgetOwner(owner: string): void {
    this.owners.delete(owner);
  }

  /** How many resources are tracked, for the gauge. */
  size(): number {
    let n = 0;
    for (const r of this.owners.values()) n += r.size;
    return n;
  }
}

function newWishes(before: ReadonlySet<string>, after: ReadonlySet<string>): ReadonlySet<string> {
  const added = new Set<string>();
  for (const f of after) if (!before.has(f)) added.add(f);
  return added;
}
