import { strict as assert } from "node:assert";
import { OptionError, opt, parseOptions } from "../../src/module-options.js";

describe("module options: opt.seconds (ejabberd's durations)", () => {
  const specs = { lifetime: opt.seconds(43200, "how long", { min: 1, max: 86400 }) };
  const read = (v: unknown) => parseOptions(specs, { lifetime: v }).lifetime;

  it("takes a number of seconds or a duration with its unit, as ejabberd's timeouts", () => {
    assert.equal(read(90), 90);
    assert.equal(read("30 s"), 30);
    assert.equal(read("2 minutes"), 120);
    assert.equal(read("12 hours"), 43200);
    assert.equal(read("1h"), 3600);
    assert.equal(read("1 day"), 86400);
    assert.equal(parseOptions(specs, {}).lifetime, 43200, "the default");
  });

  it("refuses what is not a positive duration in range, naming the key", () => {
    for (const bad of [0, -5, "soon", "3 days", true, 86401, "25 hours"]) {
      assert.throws(
        () => read(bad),
        (err: Error) =>
          err instanceof OptionError &&
          /lifetime/.test(`${(err as OptionError & { key: string }).key}`) &&
          /a number of seconds, such as 60 or "2 minutes"/.test(err.message),
        String(bad),
      );
    }
  });
});

describe("opt.access and opt.shaperRule (ejabberd's access and shaper rules)", () => {
  const specs = {
    access: opt.access("announce", "who"),
    limit: opt.shaperRule(1000, "how many"),
  };

  it("keeps a rule name, reads a rule written in place, and turns a number into a rule", () => {
    assert.equal(parseOptions(specs, {}).access, "announce");
    assert.deepEqual(parseOptions(specs, { access: [{ allow: "admin" }, "deny"] }).access, [
      { value: "allow", specs: [{ type: "acl", name: "admin" }] },
      { value: "deny", specs: [{ type: "acl", name: "all" }] },
    ]);
    assert.deepEqual(parseOptions(specs, {}).limit, [
      { value: 1000, specs: [{ type: "acl", name: "all" }] },
    ]);
    assert.equal(parseOptions(specs, { limit: "max_things" }).limit, "max_things");
  });

  it("refuses a clause that is neither allow nor deny, with the key", () => {
    assert.throws(
      () => parseOptions(specs, { access: [{ permit: "admin" }] }),
      (err: Error & { key?: string }) =>
        err.key === "access" && /expected allow or deny/.test(err.message),
    );
  });
});
