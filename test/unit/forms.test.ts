import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { buildForm, NS_XDATA, parseForm } from "../../src/xmpp/forms.js";
import { StanzaError } from "../../src/xmpp/errors.js";

function submit(...fields: Element[]): Element {
  return xml("x", { xmlns: NS_XDATA, type: "submit" }, ...fields);
}

function field(attrs: Record<string, string>, ...values: string[]): Element {
  return xml("field", attrs, ...values.map((v) => xml("value", {}, v)));
}

function badRequest(fn: () => unknown): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof StanzaError && err.condition === "bad-request",
  );
}

describe("data forms (XEP-0004)", () => {
  describe("buildForm", () => {
    it("writes the form type, title and a hidden FORM_TYPE field first (§3.1, XEP-0068 §3)", () => {
      const x = buildForm({
        type: "form",
        title: "Config",
        formType: "urn:example:config",
        fields: [{ var: "name", type: "text-single", label: "Name", value: "a" }],
      });
      assert.equal(x.attrs.xmlns, NS_XDATA);
      assert.equal(x.attrs.type, "form");
      assert.equal(x.getChildText("title"), "Config");
      const [ft, name] = x.getChildren("field");
      assert.equal(ft!.attrs.var, "FORM_TYPE");
      assert.equal(ft!.attrs.type, "hidden");
      assert.equal(ft!.getChildText("value"), "urn:example:config");
      assert.equal(name!.attrs.label, "Name");
      assert.equal(name!.getChildText("value"), "a");
    });

    it("writes booleans as 1/0 and list options with their labels (§3.2, §3.3)", () => {
      const x = buildForm({
        type: "form",
        fields: [
          { var: "on", type: "boolean", value: true },
          { var: "off", type: "boolean", value: false },
          {
            var: "pick",
            type: "list-single",
            value: "b",
            options: ["a", { value: "b", label: "Bee" }],
          },
        ],
      });
      const [on, off, pick] = x.getChildren("field");
      assert.equal(on!.getChildText("value"), "1");
      assert.equal(off!.getChildText("value"), "0");
      const options = pick!.getChildren("option");
      assert.deepEqual(
        options.map((o) => [o.attrs.label, o.getChildText("value")]),
        [
          [undefined, "a"],
          ["Bee", "b"],
        ],
      );
    });

    it("writes one <value/> per entry of a -multi field (§3.3)", () => {
      const x = buildForm({
        type: "result",
        fields: [{ var: "m", type: "jid-multi", value: ["a@x", "b@x"] }],
      });
      const values = x
        .getChild("field")!
        .getChildren("value")
        .map((v) => v.getText());
      assert.deepEqual(values, ["a@x", "b@x"]);
    });

    it("reads back what it wrote", () => {
      const x = buildForm({
        type: "submit",
        formType: "urn:example:t",
        fields: [{ var: "flag", type: "boolean", value: true }],
      });
      const f = parseForm(x, { formType: "urn:example:t" });
      assert.equal(f.formType, "urn:example:t");
      assert.equal(f.boolean("flag"), true);
    });
  });

  describe("parseForm", () => {
    it("maps each field var to its values, FORM_TYPE apart (§3.2)", () => {
      const f = parseForm(
        submit(
          field({ var: "FORM_TYPE", type: "hidden" }, "urn:example:t"),
          field({ var: "one" }, "a"),
          field({ var: "many", type: "text-multi" }, "l1", "l2"),
          field({ var: "empty" }),
        ),
      );
      assert.equal(f.type, "submit");
      assert.equal(f.formType, "urn:example:t");
      assert.deepEqual([...f.fields.keys()], ["one", "many", "empty"]);
      assert.equal(f.text("one"), "a");
      assert.deepEqual(f.values("many"), ["l1", "l2"]);
      assert.equal(f.text("empty"), "");
      assert.equal(f.text("absent"), undefined);
      assert.deepEqual(f.values("absent"), []);
    });

    it("reads booleans as 1/true and 0/false (§3.3)", () => {
      const f = parseForm(
        submit(
          field({ var: "a" }, "1"),
          field({ var: "b" }, "true"),
          field({ var: "c" }, "0"),
          field({ var: "d", type: "boolean" }, "false"),
        ),
      );
      assert.deepEqual(
        ["a", "b", "c", "d", "e"].map((n) => f.boolean(n)),
        [true, true, false, false, undefined],
      );
    });

    it("refuses any other boolean value with bad-request (§3.3)", () => {
      badRequest(() => parseForm(submit(field({ var: "b", type: "boolean" }, "yes"))));
      const untyped = parseForm(submit(field({ var: "b" }, "TRUE"), field({ var: "n" })));
      badRequest(() => untyped.boolean("b"));
      // A boolean with no value at all says nothing; refuse rather than guess.
      badRequest(() => untyped.boolean("n"));
    });

    it("prepares jid-single and jid-multi values with the JID parser (§3.3, RFC 7622)", () => {
      const f = parseForm(
        submit(
          field({ var: "owner", type: "jid-single" }, "Juliet@Example.COM"),
          field({ var: "admins", type: "jid-multi" }, "a@example.com", "b@example.com/r"),
        ),
      );
      assert.equal(f.jid("owner")!.toString(), "juliet@example.com");
      assert.deepEqual(f.jids("admins").map(String), ["a@example.com", "b@example.com/r"]);
    });

    it("refuses a malformed JID with bad-request (§3.3)", () => {
      badRequest(() => parseForm(submit(field({ var: "j", type: "jid-single" }, "@example.com"))));
      badRequest(() => parseForm(submit(field({ var: "j", type: "jid-multi" }, "a@x", "a@"))));
      const untyped = parseForm(submit(field({ var: "j" }, "x@/r")));
      badRequest(() => untyped.jid("j"));
    });

    it("refuses several values in a single-valued field (§3.3)", () => {
      badRequest(() => parseForm(submit(field({ var: "t", type: "text-single" }, "a", "b"))));
      const untyped = parseForm(submit(field({ var: "t" }, "a", "b")));
      badRequest(() => untyped.text("t"));
    });

    it("refuses a field without var, or the same var twice (§3.2)", () => {
      badRequest(() => parseForm(submit(field({ type: "text-single" }, "a"))));
      badRequest(() => parseForm(submit(field({ var: "a" }, "1"), field({ var: "a" }, "2"))));
    });

    it("skips fixed fields, which need no var (§3.2, §3.3)", () => {
      const f = parseForm(submit(field({ type: "fixed" }, "a label"), field({ var: "a" }, "1")));
      assert.deepEqual([...f.fields.keys()], ["a"]);
    });

    it("refuses a missing or unknown form type and an unknown field type (§3.1, §3.3)", () => {
      badRequest(() => parseForm(xml("x", { xmlns: NS_XDATA })));
      badRequest(() => parseForm(xml("x", { xmlns: NS_XDATA, type: "done" })));
      badRequest(() => parseForm(submit(field({ var: "a", type: "color" }, "red"))));
    });

    it("refuses an element that is not a data form", () => {
      badRequest(() => parseForm(xml("x", { xmlns: "jabber:x:oob", type: "submit" })));
      badRequest(() => parseForm(xml("query", { xmlns: NS_XDATA, type: "submit" })));
    });

    it("refuses a different FORM_TYPE when one is expected, accepts none (XEP-0068 §3)", () => {
      const other = submit(field({ var: "FORM_TYPE", type: "hidden" }, "urn:other"));
      badRequest(() => parseForm(other, { formType: "urn:example:t" }));
      assert.equal(parseForm(submit(), { formType: "urn:example:t" }).formType, undefined);
    });
  });
});
