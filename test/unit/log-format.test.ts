import { strict as assert } from "node:assert";
import { Writable } from "node:stream";
import { chooseLogFormat, createLogger } from "../../src/log.js";
import { ConfigError, parseConfig } from "../../src/config/config.js";

/** A stream that keeps what is written to it; not a terminal. */
function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** Lets a stream's pending writes land. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe("log format: pretty for a person at a terminal, JSON lines elsewhere", () => {
  it("picks JSON when the output is not a terminal and pretty when it is, unless forced", () => {
    assert.equal(chooseLogFormat("auto", {}), "json");
    assert.equal(chooseLogFormat("auto", { isTTY: false }), "json");
    assert.equal(chooseLogFormat("auto", { isTTY: true }), "pretty");
    assert.equal(chooseLogFormat("json", { isTTY: true }), "json");
    assert.equal(chooseLogFormat("pretty", {}), "pretty");
  });

  it("writes one JSON object a line by default into a pipe, with the session's fields", async () => {
    const out = sink();
    const log = createLogger("info", out.stream, "auto");
    log.child({ sid: "s1", jid: "alice@example.org/phone" }).info({ password: "x" }, "bound");
    await settle();
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    assert.equal(line.msg, "bound");
    assert.equal(line.sid, "s1");
    assert.equal(line.jid, "alice@example.org/phone");
    assert.equal(line.password, "[redacted]");
  });

  it("forced pretty: level and message on one line, the same fields under it, no colours in a pipe", async () => {
    const out = sink();
    const log = createLogger("info", out.stream, "pretty");
    log.child({ sid: "s1", jid: "alice@example.org/phone" }).warn({ password: "x" }, "bound");
    await settle();
    const text = out.text();
    assert.throws(() => JSON.parse(text.trim()) as unknown);
    const [first, ...rest] = text.trimEnd().split("\n");
    assert.match(first!, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN \(\d+\): bound$/);
    assert.ok(rest.includes('    sid: "s1"'), text);
    assert.ok(rest.includes('    jid: "alice@example.org/phone"'), text);
    assert.ok(rest.includes('    password: "[redacted]"'), text);
    assert.ok(!text.includes("\u001b["), "no ANSI colour codes");
  });

  it("is set with log_format: auto, json or pretty; anything else is refused", () => {
    assert.equal(parseConfig("hosts: [a.example]\n", "/p.yml").logFormat, undefined);
    assert.equal(
      parseConfig("hosts: [a.example]\nlog_format: pretty\n", "/p.yml").logFormat,
      "pretty",
    );
    assert.throws(
      () => parseConfig("hosts: [a.example]\nlog_format: colour\n", "/p.yml"),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.line === 2 &&
        /expected one of auto, json, pretty, got "colour"/.test(err.message),
    );
  });
});
