import type { Element } from "@xmpp/xml";
import type { StreamParserHandlers } from "../../src/xml/types.js";
import type { StreamError } from "../../src/xmpp/errors.js";

/** What a stream parser reported to its handlers, in order, for the parser tests. */
export interface Recording {
  events: string[];
  stanzas: Element[];
  errors: StreamError[];
  starts: { attrs: Record<string, string>; name: string; ns: string | undefined }[];
  handlers: StreamParserHandlers;
}

/** Handlers that record every event, then call the matching `hooks` handler, if any. */
export function recording(hooks: Partial<StreamParserHandlers> = {}): Recording {
  const r: Omit<Recording, "handlers"> = { events: [], stanzas: [], errors: [], starts: [] };
  const handlers: StreamParserHandlers = {
    streamStart(attrs, name, ns) {
      r.events.push("start");
      r.starts.push({ attrs, name, ns });
      hooks.streamStart?.(attrs, name, ns);
    },
    stanza(el) {
      r.events.push("stanza:" + el.toString());
      r.stanzas.push(el);
      hooks.stanza?.(el);
    },
    streamEnd() {
      r.events.push("end");
      hooks.streamEnd?.();
    },
    error(err) {
      r.events.push("error:" + err.condition);
      r.errors.push(err);
      hooks.error?.(err);
    },
  };
  return { ...r, handlers };
}
