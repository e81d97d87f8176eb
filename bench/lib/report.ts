// Side-by-side tables of the servers' figures, with Parley's ratios to the others (and Parley on
// PostgreSQL's to Parley on SQLite), and the issues' targets checked against them.
import type { Metric, ScenarioResult } from "./scenarios.js";
import type { StepBase } from "./stepping.js";

export interface ServerRun {
  name: string;
  version: string;
  status: "ok" | "unavailable" | "failed";
  note?: string;
  registration?: { users: number; seconds: number; failed: number };
  results: ScenarioResult[];
}

function fmt(v: number | null | undefined, unit = ""): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (unit === "yes/no") return v ? "yes" : "no";
  const s = Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : String(v);
  return s;
}

function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  const r = ratioOf(a, b);
  return r === null ? "–" : `${r.toFixed(2)}×`;
}

interface RatioPair {
  over: [string, string];
  /** The column's heading in Markdown (docs/performance.md). */
  heading: string;
}

/**
 * The ratio columns, first server's figure over the second's, shown when both ran: Parley (on
 * SQLite, its default) against the others; Parley on PostgreSQL against Parley on SQLite (what
 * the engine costs), then against the others.
 */
const RATIOS: RatioPair[] = [
  { over: ["parley", "ejabberd"], heading: "Parley/ejabberd" },
  { over: ["parley", "prosody"], heading: "Parley/Prosody" },
  { over: ["parley-pgsql", "parley"], heading: "Parley PostgreSQL/SQLite" },
  { over: ["parley-pgsql", "ejabberd"], heading: "Parley PostgreSQL/ejabberd" },
  { over: ["parley-pgsql", "prosody"], heading: "Parley PostgreSQL/Prosody" },
  // Issue 17: workers on PostgreSQL + Redis — what the second worker adds, what the Redis hop
  // costs over the same PostgreSQL, against the single process's default, and against ejabberd.
  { over: ["parley-w2", "parley-w1"], heading: "Parley 2 workers/1 worker" },
  { over: ["parley-w1", "parley-pgsql"], heading: "Parley 1 worker/PostgreSQL" },
  { over: ["parley-w2", "parley"], heading: "Parley 2 workers/SQLite" },
  { over: ["parley-w2", "ejabberd"], heading: "Parley 2 workers/ejabberd" },
];

function ratioPairs(runs: ServerRun[]): RatioPair[] {
  const names = new Set(runs.map((r) => r.name));
  return RATIOS.filter(({ over: [a, b] }) => names.has(a) && names.has(b));
}

/** The ratios of every scored figure, by pair ("parley-pgsql/parley") and figure key: for the JSON. */
export function ratios(runs: ServerRun[]): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  const { rows: rs } = rows(runs);
  for (const {
    over: [a, b],
  } of ratioPairs(runs)) {
    const pair: Record<string, number | null> = {};
    for (const row of rs) {
      if (row.metric.better === "none") continue;
      const r = ratioOf(row.values.get(a)?.value, row.values.get(b)?.value);
      pair[row.metric.key] = r === null ? null : Math.round(r * 1000) / 1000;
    }
    out[`${a}/${b}`] = pair;
  }
  return out;
}

/** A row's ratio cells, one per pair ("" for figures that are not scores). */
function ratioCells(row: Row, pairs: RatioPair[]): string[] {
  return pairs.map(({ over: [a, b] }) =>
    row.metric.better === "none" ? "" : ratio(row.values.get(a)?.value, row.values.get(b)?.value),
  );
}

interface Row {
  scenario: string;
  metric: Metric;
  values: Map<string, Metric | undefined>;
}

/** Rows (metric × server), in the order the scenarios and metrics first appear. */
function rows(runs: ServerRun[]): {
  rows: Row[];
  statuses: Map<string, Map<string, ScenarioResult>>;
} {
  const out: Row[] = [];
  const seen = new Map<string, Row>();
  const statuses = new Map<string, Map<string, ScenarioResult>>();
  for (const run of runs) {
    for (const r of run.results) {
      const st = statuses.get(r.scenario) ?? new Map<string, ScenarioResult>();
      st.set(run.name, r);
      statuses.set(r.scenario, st);
      let prev: Row | undefined;
      for (const m of r.metrics) {
        let row = seen.get(m.key);
        if (!row) {
          row = { scenario: r.scenario, metric: m, values: new Map() };
          seen.set(m.key, row);
          // A figure only some servers have (PostgreSQL's, Redis's share) goes after the one
          // before it in this server's list, not at the end of the table.
          const at = prev ? out.indexOf(prev) + 1 : out.length;
          out.splice(at > 0 ? at : out.length, 0, row);
        }
        row.values.set(run.name, m);
        prev = row;
      }
    }
  }
  return { rows: out, statuses };
}

const unitNote = (m: Metric) => (m.unit && m.unit !== "yes/no" ? ` (${m.unit})` : "");
const better = (m: Metric) => (m.better === "higher" ? "↑" : m.better === "lower" ? "↓" : " ");

/** A plain-text table: one line per figure, one column per server, then Parley's ratios. */
export function textTable(runs: ServerRun[]): string {
  const names = runs.map((r) => r.name);
  const { rows: rs, statuses } = rows(runs);
  const pairs = ratioPairs(runs);
  const head = ["figure", ...names, ...pairs.map(({ over: [a, b] }) => `${a}/${b}`)];
  const body: string[][] = [];
  let last = "";
  for (const row of rs) {
    if (row.scenario !== last) {
      last = row.scenario;
      const st = statuses.get(row.scenario)!;
      body.push([
        `[${row.scenario}]`,
        ...names.map((n) => (st.get(n)?.status === "ok" ? "" : (st.get(n)?.status ?? ""))),
      ]);
    }
    const v = (n: string) => row.values.get(n)?.value;
    body.push([
      `${better(row.metric)} ${row.metric.label}${unitNote(row.metric)}`,
      ...names.map((n) => fmt(v(n), row.metric.unit)),
      ...ratioCells(row, pairs),
    ]);
  }
  for (const [scenario, st] of statuses) {
    if (rs.some((r) => r.scenario === scenario)) continue;
    body.push([`[${scenario}]`, ...names.map((n) => st.get(n)?.status ?? "")]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? (c ?? "").padEnd(widths[i]!) : (c ?? "").padStart(widths[i]!)))
      .join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The same as a Markdown table (for docs/performance.md). */
export function markdownTable(runs: ServerRun[]): string {
  const names = runs.map((r) => r.name);
  const { rows: rs, statuses } = rows(runs);
  const pairs = ratioPairs(runs);
  const cells = (list: string[]) => list.map((c) => ` ${c} |`).join("");
  const empty = cells(pairs.map(() => ""));
  const out = [
    `| figure | ${names.join(" | ")} |${cells(pairs.map((p) => p.heading))}`,
    `| --- | ${names.map(() => "---:").join(" | ")} |${cells(pairs.map(() => "---:"))}`,
  ];
  let last = "";
  for (const row of rs) {
    if (row.scenario !== last) {
      last = row.scenario;
      const st = statuses.get(row.scenario)!;
      out.push(
        `| **${st.values().next().value?.title ?? row.scenario}** | ${names.map((n) => (st.get(n)?.status === "ok" ? "" : (st.get(n)?.status ?? ""))).join(" | ")} |${empty}`,
      );
    }
    const v = (n: string) => row.values.get(n)?.value;
    const arrow =
      row.metric.better === "higher"
        ? " (↑ better)"
        : row.metric.better === "lower"
          ? " (↓ better)"
          : "";
    out.push(
      `| ${row.metric.label.trim()}${unitNote(row.metric)}${arrow} | ${names.map((n) => fmt(v(n), row.metric.unit)).join(" | ")} |${cells(ratioCells(row, pairs))}`,
    );
  }
  for (const [scenario, st] of statuses) {
    if (rs.some((r) => r.scenario === scenario)) continue;
    out.push(
      `| **${st.values().next().value?.title ?? scenario}** | ${names.map((n) => st.get(n)?.status ?? "").join(" | ")} |${empty}`,
    );
  }
  return out.join("\n");
}

export interface TargetCheck {
  target: string;
  met: boolean | null;
  detail: string;
}

function metric(runs: ServerRun[], server: string, key: string): number | null {
  const run = runs.find((r) => r.name === server);
  for (const r of run?.results ?? []) for (const m of r.metrics) if (m.key === key) return m.value;
  return null;
}

/**
 * The targets of issues 5, 12, 14 and 17, checked: met, missed (and by how much), or not
 * measurable.
 */
export function checkTargets(runs: ServerRun[]): TargetCheck[] {
  const p = (k: string) => metric(runs, "parley", k);
  const e = (k: string) => metric(runs, "ejabberd", k);
  const s = (k: string) => metric(runs, "prosody", k);
  const out: TargetCheck[] = [];
  const vs = (
    target: string,
    a: number | null,
    b: number | null,
    factor: number,
    higher: boolean,
  ) => {
    if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
      out.push({ target, met: null, detail: "not measured" });
      return;
    }
    const r = a / b;
    const met = higher ? r >= factor : r <= factor;
    const need = higher ? `≥ ${factor}×` : `≤ ${factor}×`;
    const by = higher
      ? `${((1 - r / factor) * 100).toFixed(0)}% short`
      : `${((r / factor - 1) * 100).toFixed(0)}% over`;
    out.push({
      target,
      met,
      detail: `${a} vs ${b}: ${r.toFixed(2)}× (need ${need})${met ? "" : `, ${by}`}`,
    });
  };
  /** A figure of Parley's in ms under a limit; `what` says what and where it was. */
  const under = (
    target: string,
    ms: number | null,
    limit: number,
    what: (ms: number) => string,
  ) => {
    out.push(
      ms == null || !Number.isFinite(ms)
        ? { target, met: null, detail: "not measured" }
        : {
            target,
            met: ms < limit,
            detail: `${what(ms)}${ms < limit ? "" : `, ${(ms - limit).toFixed(1)} ms over`}`,
          },
    );
  };
  vs("one-to-one saturation ≥ 1.5× ejabberd", p("msg.saturation"), e("msg.saturation"), 1.5, true);
  vs("one-to-one saturation ≥ 2× Prosody", p("msg.saturation"), s("msg.saturation"), 2, true);
  under(
    "p99 < 50 ms at half of Parley's saturation",
    p("msg.half_p99"),
    50,
    (ms) => `p99 ${ms} ms at ${p("msg.half_rate")} msg/s`,
  );
  vs(
    "memory per idle TLS session ≤ ejabberd's",
    p("idle.rss_per_session"),
    e("idle.rss_per_session"),
    1,
    false,
  );
  vs("login rate ≥ ejabberd's", p("login.rate"), e("login.rate"), 1, true);
  // Issue 14: an idle BOSH session, its request held, costs no more than an idle TCP one.
  vs(
    "memory per idle BOSH session ≤ per idle TCP session",
    p("bosh.idle.rss_per_session"),
    p("idle.rss_per_session"),
    1,
    false,
  );
  // The like-for-like form: over https://, a TLS connection per session as the TCP one has.
  vs(
    "memory per idle BOSH session over https ≤ per idle TCP session",
    p("bosh-tls.idle.rss_per_session"),
    p("idle.rss_per_session"),
    1,
    false,
  );
  // Issue 12: MAM on everywhere.
  vs(
    "with MAM: one-to-one saturation ≥ 10× ejabberd",
    p("mam.saturation"),
    e("mam.saturation"),
    10,
    true,
  );
  vs(
    "with MAM: one-to-one saturation ≥ 10× Prosody",
    p("mam.saturation"),
    s("mam.saturation"),
    10,
    true,
  );
  under(
    "with MAM: p99 < 50 ms at half of Parley's saturation",
    p("mam.half_p99"),
    50,
    (ms) => `p99 ${ms} ms at ${p("mam.half_rate")} msg/s`,
  );
  under(
    "100,000-message archive: every page without with < 50 ms (Parley on SQLite)",
    p("mamq.100000.max_page"),
    50,
    (ms) =>
      `slowest ${ms} ms (forward, backward, single pages; forward p99 ${p("mamq.100000.fwd_p99")} ms)`,
  );
  // Issue 17: workers on PostgreSQL + Redis, on a 2-core machine that also runs the load
  // generator (so throughput cannot double). CPU per message is every process of the server's
  // (primary, workers, PostgreSQL, redis-server) at half saturation; against Parley on
  // PostgreSQL it isolates the Redis hop from what PostgreSQL costs.
  const w = (n: 1 | 2, k: string) => metric(runs, `parley-w${n}`, k);
  vs(
    "issue 17, with MAM: 2 workers' saturation ≥ 1.3× 1 worker's",
    w(2, "mam.saturation"),
    w(1, "mam.saturation"),
    1.3,
    true,
  );
  // CPU per message falls as the rate rises (group commits grow, fixed costs spread), so two
  // servers compare at one offered rate: the highest step neither saturated.
  for (const n of [2, 1] as const) {
    const who = `${n} worker${n > 1 ? "s" : ""}`;
    for (const [other, name] of [
      ["parley", "Parley on SQLite"],
      ["parley-pgsql", "Parley on PostgreSQL (the Redis hop)"],
    ] as const) {
      const [a, b, rate] = sameRateCost(runs, `parley-w${n}`, other, "mam");
      vs(
        `issue 17, with MAM: server CPU per message, ${who} ≤ 1.25× ${name}, at one rate${rate ? ` (${rate} msg/s)` : ""}`,
        a,
        b,
        1.25,
        false,
      );
    }
  }
  const over = (a: number | null, b: number | null) =>
    a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100;
  vs(
    "issue 17, with MAM: 2 workers/ejabberd ≥ Parley/ejabberd (saturation)",
    over(w(2, "mam.saturation"), e("mam.saturation")),
    over(p("mam.saturation"), e("mam.saturation")),
    1,
    true,
  );
  return out;
}

/**
 * Two servers' CPU-seconds per 1 000 units in a stepped scenario at the same offered rate, the
 * highest step that neither saturated (from the steps in its details), and that rate.
 */
export function sameRateCost(
  runs: ServerRun[],
  a: string,
  b: string,
  scenario: string,
): [number | null, number | null, number | null] {
  const steps = (server: string): Map<number, number> => {
    const r = runs.find((x) => x.name === server)?.results.find((x) => x.scenario === scenario);
    const list = (r?.details as { steps?: StepBase[] } | undefined)?.steps ?? [];
    return new Map(
      list
        .filter((st) => !st.saturated && st.cost && Number.isFinite(st.cost.cpuPerK))
        .map((st) => [st.offered, st.cost!.cpuPerK]),
    );
  };
  const sa = steps(a);
  const sb = steps(b);
  const common = [...sa.keys()].filter((rate) => sb.has(rate));
  if (common.length === 0) return [null, null, null];
  const rate = Math.max(...common);
  return [sa.get(rate)!, sb.get(rate)!, rate];
}

export function targetsText(checks: TargetCheck[]): string {
  return checks
    .map((c) => `  [${c.met === null ? "n/a " : c.met ? "met " : "MISS"}] ${c.target}: ${c.detail}`)
    .join("\n");
}
