// Running XEP-0050 ad-hoc commands from a test client: the command list, one request at a
// time, submitted forms, and what an answer holds (status, form fields, notes, errors).
import type { Element } from "@xmpp/xml";
import type { AclSpec } from "../../src/config/acl.js";
import type { ServerConfig } from "../../src/config/config.js";
import { errorCondition, xml, type TestClient } from "../../src/testkit/index.js";

export const NS_COMMANDS = "http://jabber.org/protocol/commands";
export const NS_ADMIN = "http://jabber.org/protocol/admin";
const NS_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_INFO = "http://jabber.org/protocol/disco#info";

/** `acl: admin: user: [users…]`, as an ejabberd.yml names its admins. */
export function admins(...users: string[]): (c: ServerConfig) => void {
  return (c) => {
    c.access.acl.admin = users.map((user): AclSpec => ({ type: "user", user }));
  };
}

let seq = 0;

/** Sends an IQ from `c` and resolves with the answer (result or error). */
export async function ask(c: TestClient, type: "get" | "set", child: Element): Promise<Element> {
  const id = `adhoc${++seq}`;
  await c.send(xml("iq", { type, id, to: "localhost" }, child));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

/** The command list `c` gets (XEP-0050 §2.2): node → name. */
export async function commandList(c: TestClient): Promise<Map<string, string>> {
  const res = await ask(c, "get", xml("query", { xmlns: NS_ITEMS, node: NS_COMMANDS }));
  if (res.attrs.type !== "result") throw new Error(`disco#items failed: ${res.toString()}`);
  const items = res.getChild("query", NS_ITEMS)!.getChildren("item");
  return new Map(items.map((i) => [String(i.attrs.node), String(i.attrs.name)]));
}

/** disco#info of a node of the host, as `c` asks it. */
export function nodeInfo(c: TestClient, node: string): Promise<Element> {
  return ask(c, "get", xml("query", { xmlns: NS_INFO, node }));
}

/** An XEP-0133 node name: admin("add-user"). */
export const admin = (name: string): string => `${NS_ADMIN}#${name}`;

/** A submitted form: field var → value(s); FORM_TYPE first when given. */
export function submit(fields: Record<string, string | string[]>, formType?: string): Element {
  const x = xml("x", { xmlns: "jabber:x:data", type: "submit" });
  if (formType) {
    x.append(xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)));
  }
  for (const [name, v] of Object.entries(fields)) {
    const values = Array.isArray(v) ? v : [v];
    x.append(xml("field", { var: name }, ...values.map((s) => xml("value", {}, s))));
  }
  return x;
}

/** One <command/> request; resolves with the answer's IQ. */
export function command(
  c: TestClient,
  node: string,
  opts: { action?: string; sessionid?: string; form?: Element } = {},
): Promise<Element> {
  const el = xml("command", {
    xmlns: NS_COMMANDS,
    node,
    action: opts.action,
    sessionid: opts.sessionid,
  });
  if (opts.form) el.append(opts.form);
  return ask(c, "set", el);
}

/** The <command/> of a result; fails with the stanza when it is an error. */
export function cmd(res: Element): Element {
  const el = res.getChild("command", NS_COMMANDS);
  if (res.attrs.type !== "result" || !el) throw new Error(`not a result: ${res.toString()}`);
  return el;
}

/** Runs an XEP-0133 command the usual way: execute, then submit its form with `fields`. */
export async function runAdmin(
  c: TestClient,
  name: string,
  fields: Record<string, string | string[]>,
): Promise<Element> {
  const first = cmd(await command(c, admin(name)));
  return command(c, admin(name), {
    action: "complete",
    sessionid: String(first.attrs.sessionid),
    form: submit(fields, NS_ADMIN),
  });
}

/** The values of a field of the command's form. */
export function field(command: Element, name: string): string[] {
  const x = command.getChild("x", "jabber:x:data");
  const f = x?.getChildren("field").find((el) => el.attrs.var === name);
  return f ? f.getChildren("value").map((v) => v.getText()) : [];
}

/** The field vars of the command's form, FORM_TYPE left out. */
export function fieldNames(command: Element): string[] {
  const x = command.getChild("x", "jabber:x:data");
  return (x?.getChildren("field") ?? [])
    .map((f) => String(f.attrs.var))
    .filter((v) => v !== "FORM_TYPE");
}

/** The action names an answer offers (<actions/>), with the default first. */
export function actions(command: Element): { execute?: string; allowed: string[] } {
  const a = command.getChild("actions");
  return {
    execute: a?.attrs.execute as string | undefined,
    allowed: (a?.getChildElements() ?? []).map((e) => e.name),
  };
}

/** An error answer's general and command-specific conditions (XEP-0050 §4.4). */
export function errors(res: Element): { condition?: string; specific?: string } {
  return {
    condition: errorCondition(res),
    specific: res
      .getChild("error")
      ?.getChildElements()
      .find((e) => e.attrs.xmlns === NS_COMMANDS)?.name,
  };
}
