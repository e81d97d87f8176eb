import { strict as assert } from "node:assert";
import { xml } from "@xmpp/xml";
import { HOOK_PHASES, Hooks, STOP, type HookPhase } from "../../src/hooks.js";

const payload = () => ({
  host: "localhost",
  target: "host" as const,
  node: undefined,
  query: xml("query"),
});

describe("hooks run phase by phase (design: typed, ordered extension points)", () => {
  it("runs first, guard, extend, handle, late in that order whatever the registration order", () => {
    const hooks = new Hooks();
    const ran: string[] = [];
    const phases: HookPhase[] = ["late", "handle", "extend", "guard", "first"];
    for (const phase of phases) hooks.add("disco_info", () => void ran.push(phase), { phase });
    hooks.run("disco_info", payload());
    assert.deepEqual(ran, [...HOOK_PHASES]);
  });

  it("keeps registration order within a phase, and handle is the default", () => {
    const hooks = new Hooks();
    const ran: string[] = [];
    hooks.add("disco_info", () => void ran.push("a"));
    hooks.add("disco_info", () => void ran.push("b"), { phase: "handle" });
    hooks.add("disco_info", () => void ran.push("c"));
    hooks.run("disco_info", payload());
    assert.deepEqual(ran, ["a", "b", "c"]);
  });

  it("a guard that stops the chain keeps later phases from running", () => {
    const hooks = new Hooks();
    const ran: string[] = [];
    hooks.add("disco_info", () => void ran.push("late"), { phase: "late" });
    hooks.add("disco_info", () => STOP, { phase: "guard" });
    hooks.add("disco_info", () => void ran.push("first"), { phase: "first" });
    assert.equal(hooks.run("disco_info", payload()), false);
    assert.deepEqual(ran, ["first"]);
  });

  it("refuses an unknown phase", () => {
    const hooks = new Hooks();
    assert.throws(() => hooks.add("disco_info", () => undefined, { phase: "soon" as HookPhase }));
  });
});
