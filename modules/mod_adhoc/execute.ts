// Executing a command (XEP-0050 §2.4, §3): one <command/> request in, the next stage's form,
// the outcome or an error out. Sessions carry a command across its stages (§3.2); "execute"
// means what the last <actions/> said (§3.3); the errors are those of §4.4.
import {
  NS_XDATA,
  StanzaError,
  isStanzaError,
  parseForm,
  xml,
  type AdhocCommand,
  type AdhocNote,
  type AdhocRun,
  type Element,
  type JID,
  type SubmittedForm,
} from "../../src/moduleapi.js";
import type { CommandSession, CommandSessions } from "./sessions.js";

export const NS_COMMANDS = "http://jabber.org/protocol/commands";

const ACTIONS = ["execute", "cancel", "prev", "next", "complete"] as const;
type Action = (typeof ACTIONS)[number];

/** §4.4: a general condition with the command namespace's specific one. */
function commandError(
  condition: "bad-request" | "not-allowed",
  specific: string,
  text: string,
): StanzaError {
  return new StanzaError(condition, text, undefined, xml(specific, { xmlns: NS_COMMANDS }));
}

export interface ExecuteRequest {
  command: AdhocCommand;
  from: JID;
  /** The request's <command/> element. */
  payload: Element;
  lang: string | undefined;
}

/** Answers one execution request with the <command/> of the result (or throws the error). */
export async function execute(sessions: CommandSessions, req: ExecuteRequest): Promise<Element> {
  const { command, from, payload } = req;
  const action = payload.attrs.action ?? "execute";
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw commandError("bad-request", "malformed-action", `unknown action '${action}'`);
  }
  const id = payload.attrs.sessionid as string | undefined;
  if (id === undefined) {
    // §3.2: a request without a sessionid starts a session, and only "execute" does.
    if (action !== "execute") {
      throw commandError("bad-request", "bad-sessionid", `'${action}' needs a sessionid`);
    }
    const session = sessions.start(from, command.node, req.lang);
    if (!session) {
      throw new StanzaError("not-allowed", "too many command sessions under way");
    }
    return guarded(sessions, session, () => begin(sessions, session, command), true);
  }
  const found = sessions.find(from, id);
  if (found === "expired") {
    throw commandError("not-allowed", "session-expired", "this session has ended");
  }
  if (!found || found.node !== command.node) {
    throw commandError("bad-request", "bad-sessionid", "no such session");
  }
  if (found.busy) throw new StanzaError("unexpected-request", "the previous step is under way");
  sessions.touch(found);
  return guarded(sessions, found, () => step(sessions, found, command, action as Action, payload));
}

/**
 * Runs `fn` with the session marked busy. An error ends the session, unless it is the
 * requester's to fix (type "modify": a form to correct, an action not offered) in a session
 * the requester knows the id of (not `starting`).
 */
async function guarded(
  sessions: CommandSessions,
  session: CommandSession,
  fn: () => Promise<Element>,
  starting = false,
): Promise<Element> {
  session.busy = true;
  try {
    return await fn();
  } catch (err) {
    if (starting || !(isStanzaError(err) && err.type === "modify")) sessions.end(session);
    throw err;
  } finally {
    session.busy = false;
  }
}

async function begin(
  sessions: CommandSessions,
  session: CommandSession,
  command: AdhocCommand,
): Promise<Element> {
  if ((command.stages ?? []).length === 0) return complete(sessions, session, command);
  return show(session, command);
}

async function step(
  sessions: CommandSessions,
  session: CommandSession,
  command: AdhocCommand,
  asked: Action,
  payload: Element,
): Promise<Element> {
  const last = (command.stages ?? []).length - 1;
  // §3.3: "execute" is what the <actions/> of the last answer made the default.
  const action = asked === "execute" ? session.execute : asked;
  switch (action) {
    case "cancel":
      sessions.end(session);
      return reply(session, "canceled");
    case "prev":
      if (session.stage === 0) throw badAction("there is no previous stage");
      session.stage -= 1;
      session.forms.pop();
      return show(session, command);
    case "next":
      if (session.stage >= last) throw badAction("this is the last stage");
      session.forms.push(submitted(session, payload));
      session.stage += 1;
      return show(session, command);
    default:
      if (session.stage < last) throw badAction("there are stages left");
      session.forms.push(submitted(session, payload));
      try {
        return await complete(sessions, session, command);
      } catch (err) {
        session.forms.pop(); // the same stage again, if the session goes on
        throw err;
      }
  }
}

function badAction(text: string): StanzaError {
  return commandError("bad-request", "bad-action", text);
}

/** The form submitted for the stage shown, with every required field filled in. */
function submitted(session: CommandSession, payload: Element): SubmittedForm {
  const x = payload.getChild("x", NS_XDATA);
  if (!x) throw commandError("bad-request", "bad-payload", "the stage's form is missing");
  const type = x.attrs.type;
  // §3.4.1: a form of type "cancel" counts as submitted.
  if (type !== "submit" && type !== "cancel") {
    throw commandError("bad-request", "bad-payload", `expected a submitted form, not '${type}'`);
  }
  const form = parseForm(x);
  for (const name of session.required) {
    if (!form.values(name).some((v) => v.trim() !== "")) {
      throw commandError("bad-request", "bad-payload", `the field '${name}' is required`);
    }
  }
  return form;
}

function run(session: CommandSession): AdhocRun {
  return { from: session.requester, forms: [...session.forms], lang: session.lang };
}

/** Shows the current stage's form with the actions possible from it (§3.3). */
async function show(session: CommandSession, command: AdhocCommand): Promise<Element> {
  const stages = command.stages ?? [];
  const form = await stages[session.stage]!.form(run(session));
  session.required = form
    .getChildren("field")
    .filter((f) => f.getChild("required"))
    .map((f) => String(f.attrs.var));
  const last = session.stage === stages.length - 1;
  session.execute = last ? "complete" : "next";
  const actions = xml("actions", { execute: session.execute });
  if (session.stage > 0) actions.append(xml("prev"));
  actions.append(xml(last ? "complete" : "next"));
  return reply(session, "executing", [actions, form]);
}

async function complete(
  sessions: CommandSessions,
  session: CommandSession,
  command: AdhocCommand,
): Promise<Element> {
  const outcome = (await command.complete(run(session))) ?? {};
  sessions.end(session);
  const children: Element[] = (outcome.notes ?? []).map(note);
  if (outcome.form) children.push(outcome.form);
  return reply(session, "completed", children);
}

function note(n: AdhocNote): Element {
  return xml("note", { type: n.type }, n.text);
}

function reply(
  session: CommandSession,
  status: "executing" | "completed" | "canceled",
  children: Element[] = [],
): Element {
  return xml(
    "command",
    {
      xmlns: NS_COMMANDS,
      node: session.node,
      sessionid: session.id,
      status,
      // §3.6: the responder says which language the session uses.
      "xml:lang": session.lang,
    },
    ...children,
  );
}
