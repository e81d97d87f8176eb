import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { InboxEntry } from "./protocol.js";

/** What the cluster's metrics read. */
export interface ClusterFigures {
  liveNodes(): number;
  inFlight(): number;
  remoteSessions(): number;
}

/**
 * The cluster's health (issue 17: "a slow node is visible in the metrics"): how many nodes run,
 * what this node handed to others and awaits, and how long stanzas waited in this node's inbox
 * — a node that falls behind shows there first. Every node exports its own; Prometheus's
 * `instance` (or the `node` a scrape config adds) tells them apart.
 */
export function registerClusterMetrics(
  registry: Registry,
  figures: ClusterFigures,
): { inboxLag: Histogram; sent: (entry: InboxEntry) => void; wrote: () => void } {
  new Gauge({
    name: "parley_cluster_nodes",
    help: "Cluster nodes whose lease runs, as this node last saw",
    registers: [registry],
    collect() {
      this.set(figures.liveNodes());
    },
  });
  new Gauge({
    name: "parley_cluster_in_flight",
    help: "Stanzas handed to other nodes whose copy is not yet safe there (their senders' acknowledgements wait)",
    registers: [registry],
    collect() {
      this.set(figures.inFlight());
    },
  });
  new Gauge({
    name: "parley_cluster_remote_sessions",
    help: "Sessions other nodes serve, as mirrored here",
    registers: [registry],
    collect() {
      this.set(figures.remoteSessions());
    },
  });
  const inboxLag = new Histogram({
    name: "parley_cluster_inbox_lag_seconds",
    help: "Time from another node adding an entry to this node's inbox to this node reading it",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const entries = new Counter({
    name: "parley_cluster_inbox_entries_sent_total",
    help: "Entries this node added to other nodes' inboxes, by kind (stanza, fanout, routed, reply, command, claim)",
    labelNames: ["kind"],
    registers: [registry],
  });
  const copies = new Counter({
    name: "parley_cluster_copies_sent_total",
    help: "Stanza copies those entries carried to other nodes' sessions and rooms (a fanout entry carries one per session)",
    registers: [registry],
  });
  // Every kind from 0, so that rate() sees the first entry of each (as the core's counters).
  for (const kind of Object.values(KINDS)) entries.inc({ kind }, 0);
  const sent = (entry: InboxEntry): void => {
    entries.inc({ kind: KINDS[entry.k] });
    if (entry.k === "f") copies.inc(entry.to.length);
    else if (entry.k === "s" || entry.k === "v") copies.inc();
  };
  const writes = new Counter({
    name: "parley_cluster_inbox_writes_total",
    help: "Stream entries (XADD) this node wrote to other nodes' inboxes; each holds one entry, or a batch of those written in one turn",
    registers: [registry],
  });
  return { inboxLag, sent, wrote: () => writes.inc() };
}

const KINDS: Record<InboxEntry["k"], string> = {
  s: "stanza",
  f: "fanout",
  v: "routed",
  r: "reply",
  c: "command",
  h: "claim",
};
