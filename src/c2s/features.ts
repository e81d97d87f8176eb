import type { C2SStream, StreamFeature, StreamFeatureFactory } from "./stream.js";
import { starttlsFeature } from "./starttls.js";
import { saslFeature } from "./sasl.js";
import { reauthGuard, sasl2Feature } from "./sasl2.js";
import { bindFeature, legacySessionFeature } from "./bind.js";

/**
 * The registry of c2s stream features, in the order they are offered and negotiated
 * (RFC 6120 §4.3.2). The core registers STARTTLS, SASL, bind and the legacy session; later
 * features (SASL2, Bind2, CSI) register here instead of editing the session.
 */
export class StreamFeatures {
  private readonly entries: { name: string; factory: StreamFeatureFactory }[] = [];

  /** Adds a feature, last or before the one named; returns a function that removes it. */
  register(
    name: string,
    factory: StreamFeatureFactory,
    opts: { before?: string } = {},
  ): () => void {
    if (this.entries.some((e) => e.name === name)) {
      throw new Error(`stream feature ${name} is registered already`);
    }
    const entry = { name, factory };
    const at = opts.before ? this.entries.findIndex((e) => e.name === opts.before) : -1;
    if (at >= 0) this.entries.splice(at, 0, entry);
    else this.entries.push(entry);
    return () => {
      const i = this.entries.indexOf(entry);
      if (i >= 0) this.entries.splice(i, 1);
    };
  }

  /** One stream's instances of every feature, in order. */
  create(stream: C2SStream): StreamFeature[] {
    return this.entries.map((e) => e.factory(stream));
  }
}

/** The features every c2s stream has. */
export function coreStreamFeatures(): StreamFeatures {
  const features = new StreamFeatures();
  features.register("starttls", starttlsFeature);
  features.register("sasl2", sasl2Feature);
  features.register("sasl", saslFeature);
  features.register("bind", bindFeature);
  features.register("session", legacySessionFeature);
  features.register("sasl2-reauth", reauthGuard);
  return features;
}
