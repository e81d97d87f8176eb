import { strict as assert } from "node:assert";
import { Writable } from "node:stream";
import { Counter, Registry } from "prom-client";
import { createLogger, type Logger } from "../../src/log.js";
import { Metrics } from "../../src/metrics.js";
import { MODULE_METRIC_PREFIX, ModuleMetrics } from "../../src/module-metrics.js";

/** A logger whose lines land in `lines`, parsed. */
function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n")) {
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { log: createLogger("debug", sink), lines };
}

describe("module metrics (ctx.counter, ctx.gauge)", () => {
  let registry: Registry;
  let m: ModuleMetrics;
  let log: Logger;
  let lines: Record<string, unknown>[];
  beforeEach(() => {
    registry = new Registry();
    m = new ModuleMetrics(registry);
    ({ log, lines } = capture());
  });
  const text = (): Promise<string> => registry.metrics();

  it("names a module's counter parley_mod_<module>_<name>, one series per host, shown at 0 before the first event", async () => {
    const a = m.counter("mod_mam", "a.example", "failures_total", "Failures", [], log);
    const b = m.counter("mod_mam", "b.example", "failures_total", "Failures", [], log);
    assert.match(await text(), /^parley_mod_mam_failures_total\{host="a\.example"\} 0$/m);
    a.counter.inc();
    a.counter.inc(2);
    b.counter.inc();
    const t = await text();
    assert.match(t, /^# TYPE parley_mod_mam_failures_total counter$/m);
    assert.match(t, /^parley_mod_mam_failures_total\{host="a\.example"\} 3$/m);
    assert.match(t, /^parley_mod_mam_failures_total\{host="b\.example"\} 1$/m);
    // A module not named mod_* gets the same namespace.
    m.counter("welcome", "a.example", "sent_total", "Welcomes", [], log).counter.inc();
    assert.match(await text(), /^parley_mod_welcome_sent_total\{host="a\.example"\} 1$/m);
  });

  it("finds the same counter again after a stop (reload), with its count", async () => {
    const first = m.counter("mod_x", "h", "events_total", "Events", [], log);
    first.counter.inc(5);
    first.release();
    const again = m.counter("mod_x", "h", "events_total", "Events", [], log);
    again.counter.inc();
    assert.match(await text(), /^parley_mod_x_events_total\{host="h"\} 6$/m);
  });

  it("counts by the module's own labels besides host", async () => {
    const { counter } = m.counter("mod_x", "h", "drops_total", "Drops", ["reason"], log);
    counter.inc({ reason: "full" });
    counter.inc({ reason: "full" }, 2);
    counter.inc({ reason: "late" });
    const t = await text();
    assert.match(t, /^parley_mod_x_drops_total\{reason="full",host="h"\} 3$/m);
    assert.match(t, /^parley_mod_x_drops_total\{reason="late",host="h"\} 1$/m);
  });

  it("refuses invalid names and labels with a message that says what is valid", () => {
    const bad = (f: () => unknown, re: RegExp): void => assert.throws(f, re);
    bad(() => m.counter("mod_x", "h", "bad-name", "H", [], log), /invalid metric name 'bad-name'/);
    bad(() => m.counter("mod_x", "h", "9lives", "H", [], log), /invalid metric name/);
    bad(() => m.counter("mod_x", "h", "", "H", [], log), /invalid metric name/);
    bad(() => m.counter("my-mod", "h", "n", "H", [], log), /module name 'my-mod' cannot be part/);
    bad(() => m.counter("mod_x", "h", "n", "", [], log), /needs a help text/);
    bad(() => m.counter("mod_x", "h", "n", "H", ["host"], log), /'host' is added by the server/);
    bad(() => m.counter("mod_x", "h", "n", "H", ["__x"], log), /invalid label name '__x'/);
    bad(() => m.counter("mod_x", "h", "n", "H", ["a-b"], log), /invalid label name 'a-b'/);
    bad(() => m.counter("mod_x", "h", "n", "H", ["a", "a"], log), /'a' is named twice/);
    assert.doesNotMatch(JSON.stringify(registry.getMetricsAsJSON()), /parley_mod_x/);
  });

  it("refuses another definition while a host holds the metric, and takes it once none does", async () => {
    const a = m.counter("mod_x", "a", "n_total", "Old help", [], log);
    const b = m.counter("mod_x", "b", "n_total", "Old help", [], log);
    assert.throws(
      () => m.counter("mod_x", "c", "n_total", "New help", [], log),
      /already registered as a counter .* help 'Old help'; every host must register the same/,
    );
    assert.throws(
      () => m.gauge("mod_x", "c", "n_total", "Old help", () => 1, [], log),
      /already registered as a counter/,
    );
    a.release();
    assert.throws(() => m.counter("mod_x", "c", "n_total", "H", ["kind"], log), /already/);
    b.release();
    const c = m.counter("mod_x", "c", "n_total", "New help", ["kind"], log);
    c.counter.inc({ kind: "k" });
    const t = await text();
    assert.match(t, /^# HELP parley_mod_x_n_total New help$/m);
    assert.match(t, /^parley_mod_x_n_total\{kind="k",host="c"\} 1$/m);
  });

  it("keeps modules from taking each other's metrics or the server's", () => {
    m.counter("mod_a_b", "h", "c_total", "H", [], log);
    // mod_a's "b_c_total" would be the same name.
    assert.throws(
      () => m.counter("mod_a", "h", "b_c_total", "H", [], log),
      /parley_mod_a_b_c_total belongs to mod_a_b; mod_a cannot register it/,
    );
    new Counter({ name: "parley_mod_core_thing", help: "H", registers: [registry] });
    assert.throws(() => m.counter("mod_core", "h", "thing", "H", [], log), /the server's own/);
  });

  it("no core metric starts with the modules' prefix", async () => {
    const metrics = new Metrics(
      { connections: () => [], sessions: () => 0, resumable: () => 0, components: () => 0 },
      log,
    );
    try {
      const names = (await metrics.registry.getMetricsAsJSON()).map((x) => x.name);
      assert.ok(names.includes("parley_sessions"));
      assert.deepEqual(
        names.filter((n) => n.startsWith(MODULE_METRIC_PREFIX)),
        [],
      );
    } finally {
      await metrics.stop();
    }
  });

  it("logs a wrong call to inc once and goes on, without counting it or throwing", async () => {
    const { counter } = m.counter("mod_x", "h", "n_total", "H", ["reason"], log);
    const loose = counter as unknown as { inc(a?: unknown, b?: unknown): void };
    loose.inc({ reason: "ok" }, -1);
    loose.inc({ other: "x" });
    loose.inc();
    loose.inc({ reason: 5 });
    counter.inc({ reason: "ok" });
    assert.match(await text(), /^parley_mod_x_n_total\{reason="ok",host="h"\} 1$/m);
    const errors = lines.filter((l) => String(l.msg).startsWith("metric not counted"));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.metric, "parley_mod_x_n_total");
    assert.match(String(errors[0]!.msg), /finite number >= 0/);
  });

  it("reads a gauge at each scrape, per host; a stopped host is no longer reported", async () => {
    let rooms = 2;
    const releaseA = m.gauge("mod_muc", "a", "rooms", "Rooms", () => rooms, [], log);
    m.gauge("mod_muc", "b", "rooms", "Rooms", () => 7, [], log);
    assert.match(await text(), /^parley_mod_muc_rooms\{host="a"\} 2$/m);
    rooms = 3;
    let t = await text();
    assert.match(t, /^parley_mod_muc_rooms\{host="a"\} 3$/m);
    assert.match(t, /^parley_mod_muc_rooms\{host="b"\} 7$/m);
    assert.throws(
      () => m.gauge("mod_muc", "b", "rooms", "Rooms", () => 1, [], log),
      /already read on b; register it once per start/,
    );
    releaseA();
    t = await text();
    assert.doesNotMatch(t, /host="a"/);
    assert.match(t, /^parley_mod_muc_rooms\{host="b"\} 7$/m);
    // Started again (reload): reported again, no re-registration error.
    m.gauge("mod_muc", "a", "rooms", "Rooms", () => 1, [], log);
    assert.match(await text(), /^parley_mod_muc_rooms\{host="a"\} 1$/m);
  });

  it("reads a labelled gauge as one value per series", async () => {
    m.gauge(
      "mod_x",
      "h",
      "queue",
      "Queued",
      () => [
        { labels: { unit: "bytes" }, value: 100 },
        { labels: { unit: "stanzas" }, value: 2 },
      ],
      ["unit"],
      log,
    );
    const t = await text();
    assert.match(t, /^parley_mod_x_queue\{unit="bytes",host="h"\} 100$/m);
    assert.match(t, /^parley_mod_x_queue\{unit="stanzas",host="h"\} 2$/m);
  });

  it("skips a gauge whose reader throws, logging it once, and still serves the rest", async () => {
    m.gauge(
      "mod_x",
      "bad",
      "level",
      "L",
      () => {
        throw new Error("boom");
      },
      [],
      log,
    );
    m.gauge("mod_x", "good", "level", "L", () => 4, [], log);
    await text();
    const t = await text();
    assert.match(t, /^parley_mod_x_level\{host="good"\} 4$/m);
    assert.doesNotMatch(t, /host="bad"/);
    const errors = lines.filter((l) => l.msg === "gauge not read: its reader threw");
    assert.equal(errors.length, 1);
  });
});
