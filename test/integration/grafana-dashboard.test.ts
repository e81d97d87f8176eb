// Issue 18, "Seeing it": the Grafana dashboard in docs/grafana/ is true of the server. A real
// Prometheus scrapes a test server with clients on it, and every panel's query, with Grafana's
// variables filled in as Grafana would, is evaluated by that Prometheus: each must be valid
// PromQL, name only metrics the server exposes, and return data unless listed below with why.
// The alerting rules of docs/prometheus/ (docs/monitoring.md) are loaded into the same
// Prometheus and must evaluate without error.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { connect } from "../../src/testkit/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml } from "../helpers/client.js";
import {
  startPrometheus,
  type PrometheusServer,
  type QueryAnswer,
  type Sample,
} from "../helpers/prometheus.js";

const DASHBOARD = new URL("../../docs/grafana/parley-dashboard.json", import.meta.url);
const ALERTS = fileURLToPath(new URL("../../docs/prometheus/parley-alerts.yml", import.meta.url));

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}

interface Target {
  expr: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
}
interface Dashboard {
  __inputs: { name: string; pluginId: string }[];
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; allValue?: string; query: { query: string } }[] };
}

/** Grafana's built-in interval variables, as it would fill them for a one-hour view. */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: "1m",
  __interval: "15s",
  __range: "1h",
};

/**
 * Panel queries that may rightly be empty in this run, and why. Everything else must return at
 * least one series: a panel without data in a busy server's test run is a wrong panel.
 */
function mayBeEmpty(expr: string, engine: "sqlite" | "pgsql"): string | undefined {
  if (engine !== "pgsql" && expr.includes("parley_pgsql_write_seconds"))
    return "the server runs on SQLite";
  if (engine !== "sqlite" && expr.includes("parley_sqlite_write_seconds"))
    return "the server runs on PostgreSQL";
  // Counters with labels of their own have no series until their first increment.
  if (expr.includes("parley_mod_push_notifications_total")) return "no push notification sent";
  if (expr.includes("parley_mod_client_state_flushes_total")) return "no CSI flush";
  return undefined;
}

describe("the Grafana dashboard (docs/grafana/parley-dashboard.json) against a real Prometheus", function () {
  this.timeout(30_000);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
  const alerts = parse(readFileSync(ALERTS, "utf8")) as RuleFile;
  let t: TestServer;
  let prom: PrometheusServer;

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_roster: {},
        mod_mam: {},
        mod_muc: {},
        mod_pubsub: {},
        mod_push: {},
        mod_client_state: {},
        mod_fail2ban: {},
      },
      config: (c) => {
        c.metrics = { port: 0, ip: "127.0.0.1" };
      },
    });
    prom = await startPrometheus([new URL(t.server.metricsUrl!).host], [ALERTS]);
  });
  after(async () => {
    await prom?.stop();
    await t?.stop();
  });

  /** Fills in the dashboard's variables; `$instance` with its All value. */
  function substitute(expr: string): string {
    const values: Record<string, string> = { ...GRAFANA_VARIABLES };
    for (const v of dashboard.templating.list) values[v.name] = v.allValue ?? ".+";
    const out = expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
      const v = values[name];
      assert.ok(v !== undefined, `unknown variable ${whole} in ${expr}`);
      return v;
    });
    return out;
  }

  function targets(): { panel: Panel; target: Target; expr: string }[] {
    const out = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        out.push({ panel, target, expr: substitute(target.expr) });
      }
    }
    return out;
  }

  /** An instant query's answer; anything but success fails the test. */
  async function evaluate(
    expr: string,
  ): Promise<Extract<QueryAnswer, { status: "success" }>["data"]> {
    const a = await prom.query(expr);
    assert.equal(a.status, "success", `${expr}: ${JSON.stringify(a)}`);
    return (a as Extract<QueryAnswer, { status: "success" }>).data;
  }

  /** How many series of an instant query have data. */
  async function series(expr: string): Promise<number> {
    const { resultType, result } = await evaluate(expr);
    // A scalar or string answer is one value. A histogram quantile over a window without
    // observations is NaN: a series, but no data on the panel.
    if (resultType === "scalar" || resultType === "string") return 1;
    if (resultType !== "vector") return result.length;
    return (result as Sample[]).filter((s) => s.value[1] !== "NaN").length;
  }

  /** The values of an instant query: one a series (or the scalar). */
  async function values(expr: string): Promise<number[]> {
    const { resultType, result } = await evaluate(expr);
    if (resultType === "scalar") return [Number((result as [number, string])[1])];
    return (result as Sample[]).map((x) => Number(x.value[1]));
  }

  async function waitFor(what: string, cond: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}\n${prom.output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it("is an importable dashboard: a ${DS_PROMETHEUS} input, every panel on it, with queries", () => {
    assert.ok(dashboard.schemaVersion >= 36);
    assert.deepEqual(
      dashboard.__inputs.map((i) => [i.name, i.pluginId]),
      [["DS_PROMETHEUS", "prometheus"]],
    );
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
    for (const p of dashboard.panels.filter((p) => p.type !== "row")) {
      assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has queries`);
      for (const tg of p.targets) assert.equal(tg.datasource?.uid, "${DS_PROMETHEUS}", p.title);
    }
  });

  it("names only metrics the server exposes, in its panels and in the alerting rules", async () => {
    const text = await (await fetch(t.server.metricsUrl!)).text();
    const exposed = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exposed.add(m[1]!);
      if (m[2] === "histogram")
        for (const s of ["_bucket", "_sum", "_count"]) exposed.add(m[1]! + s);
    }
    const named = new Set<string>();
    for (const { expr } of targets())
      for (const m of expr.matchAll(/\bparley_\w+/g)) named.add(m[0]);
    for (const v of dashboard.templating.list)
      for (const m of v.query.query.matchAll(/\bparley_\w+/g)) named.add(m[0]);
    for (const g of alerts.groups)
      for (const r of g.rules) for (const m of r.expr.matchAll(/\bparley_\w+/g)) named.add(m[0]);
    const unknown = [...named].filter((n) => !exposed.has(n));
    assert.deepEqual(unknown, [], `metrics the server does not expose: ${unknown.join(", ")}`);
  });

  it("every panel query is valid PromQL with data from a server with traffic (one failed login among it)", async () => {
    await waitFor("Prometheus has scraped the server", async () => {
      return (await series('up{job="parley"} == 1')) > 0;
    });
    // Traffic after the first scrape, so that rates and histogram quantiles have an increase.
    const alice = await t.client("alice", { resource: "a" });
    const bob = await t.client("bob", { resource: "b" });
    await alice.send(xml("presence"));
    await bob.send(xml("presence"));
    for (let i = 0; i < 5; i++) {
      await alice.send(
        xml("message", { to: "bob@localhost/b", type: "chat" }, xml("body", {}, `m${i}`)),
      );
      await bob.next((el) => el.is("message") && el.getChildText("body") === `m${i}`);
    }
    await assert.rejects(connect({ port: t.port, username: "bob", password: "wrong" }));

    const engine = t.config.sqlType === "pgsql" ? "pgsql" : "sqlite";
    const required = targets().filter(({ expr }) => !mayBeEmpty(expr, engine));
    // Bounded: until Prometheus has scraped the traffic, the failed login included, and every
    // required query has data.
    let missing: string[] = [];
    await waitFor("every required panel query has data", async () => {
      missing = [];
      const failed = await values("sum(parley_auth_failures_total)");
      if (failed[0] !== 1) missing.push("the failed login");
      for (const r of required) if ((await series(r.expr)) === 0) missing.push(r.expr);
      return missing.length === 0;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nwithout data:\n${missing.join("\n")}`);
    });
    // The optional ones are still valid PromQL (series() asserts the status).
    for (const { expr } of targets()) await series(expr);
    // The failed login is what the authentication panels show.
    const auth = targets().filter(({ expr }) => expr.includes("parley_auth_failures_total"));
    assert.ok(auth.length > 0);
    for (const { panel, expr } of auth) {
      assert.ok(
        (await values(expr)).some((v) => v > 0),
        panel.title,
      );
    }
    await alice.stop();
    await bob.stop();
  });

  it("loads the alerting rules of docs/prometheus/ and evaluates each without error", async () => {
    type Rules = {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const want = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    let rules: Rules["data"]["groups"][number]["rules"] = [];
    await waitFor("every rule has been evaluated", async () => {
      const r = (await prom.get("/api/v1/rules")) as Rules;
      rules = r.data.groups.flatMap((g) => g.rules);
      return rules.length === want.length && rules.every((x) => x.health !== "unknown");
    });
    assert.deepEqual(rules.map((r) => r.name).sort(), want);
    for (const r of rules) assert.equal(r.health, "ok", `${r.name}: ${r.lastError}`);
  });
});
