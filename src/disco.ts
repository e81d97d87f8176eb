/** XEP-0030 identity. */
export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

/** Where a disco feature is advertised: the server's domain or every user account. */
export type DiscoTarget = "host" | "account";

interface Entry<T> {
  host: string;
  target: DiscoTarget;
  owner: string;
  value: T;
}

/**
 * What modules advertise through service discovery (XEP-0030), per host; mod_disco answers
 * disco#info from it and mod_caps hashes it. Entries are removed with their owner.
 */
export class DiscoRegistry {
  private features: Entry<string>[] = [];
  private identities: Entry<DiscoIdentity>[] = [];
  private items: Entry<{ jid: string; name?: string }>[] = [];

  addFeature(host: string, target: DiscoTarget, feature: string, owner: string): void {
    this.features.push({ host, target, owner, value: feature });
  }

  addIdentity(host: string, target: DiscoTarget, identity: DiscoIdentity, owner: string): void {
    this.identities.push({ host, target, owner, value: identity });
  }

  /** A service item on the host (e.g. conference.example.org for MUC). */
  addItem(host: string, item: { jid: string; name?: string }, owner: string): void {
    this.items.push({ host, target: "host", owner, value: item });
  }

  featuresOf(host: string, target: DiscoTarget): string[] {
    const set = new Set(
      this.features.filter((e) => e.host === host && e.target === target).map((e) => e.value),
    );
    return [...set].sort();
  }

  identitiesOf(host: string, target: DiscoTarget): DiscoIdentity[] {
    return this.identities
      .filter((e) => e.host === host && e.target === target)
      .map((e) => e.value);
  }

  itemsOf(host: string): { jid: string; name?: string }[] {
    return this.items.filter((e) => e.host === host).map((e) => e.value);
  }

  removeOwner(owner: string): void {
    this.features = this.features.filter((e) => e.owner !== owner);
    this.identities = this.identities.filter((e) => e.owner !== owner);
    this.items = this.items.filter((e) => e.owner !== owner);
  }
}
