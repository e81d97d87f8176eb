// A tiny BOSH client (XEP-0124, XEP-0206) over raw HTTP POSTs, for tests: it sends what it is
// told with the rid it is told, so tests can also send what no real client would.
import { request } from "node:http";
import type { Element } from "@xmpp/xml";
import { parse } from "ltx";
import { ScramClient } from "./scram-client.js";

export const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
const XBOSH = "xmlns:xmpp='urn:xmpp:xbosh'";

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One raw POST (or another method) to the BOSH URL. */
export function httpRequest(
  url: string,
  body: string | Buffer | null,
  method = "POST",
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { "Content-Type": "text/xml; charset=utf-8", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

export class BoshClient {
  sid = "";
  rid = Math.floor(Math.random() * 1e9) + 1e6;
  /** Payloads received, not yet taken by next(). */
  private inbox: Element[] = [];
  jid = "";

  constructor(readonly url: string) {}

  /** POSTs a body and parses the answer (which must be XML). */
  async post(xml: string): Promise<Element> {
    const a = await httpRequest(this.url, xml);
    if (a.status !== 200) throw new Error(`HTTP ${a.status}: ${a.text}`);
    return parse(a.text);
  }

  /** A request of this session with the next rid; the answer's payloads go to the inbox. */
  send(inner = "", attrs = ""): Promise<Element> {
    return this.at(this.rid++, inner, attrs);
  }

  /** A request of this session with the rid given (the next one is not moved). */
  async at(rid: number, inner = "", attrs = ""): Promise<Element> {
    const body = await this.post(this.wrap(rid, inner, attrs));
    this.inbox.push(...body.getChildElements());
    return body;
  }

  /** The <body/> of a request of this session. */
  wrap(rid: number, inner = "", attrs = ""): string {
    return `<body rid='${rid}' sid='${this.sid}' xmlns='${NS_HTTPBIND}' ${attrs}>${inner}</body>`;
  }

  /** XEP-0124 §7: opens a session; returns the creation answer. */
  async open(domain: string, extra = "wait='10' hold='1'"): Promise<Element> {
    const body = await this.post(
      `<body rid='${this.rid++}' to='${domain}' xml:lang='en' ver='1.11' ${extra} ` +
        `xmpp:version='1.0' ${XBOSH} xmlns='${NS_HTTPBIND}'/>`,
    );
    this.sid = body.attrs.sid as string;
    this.inbox.push(...body.getChildElements());
    return body;
  }

  /** The next payload named `name`, polling with empty requests until it comes. */
  async next(name: string, polls = 10): Promise<Element> {
    for (let i = 0; ; i++) {
      const at = this.inbox.findIndex((e) => e.name === name || e.getName() === name);
      if (at !== -1) return this.inbox.splice(at, 1)[0]!;
      if (i >= polls) throw new Error(`no <${name}/> came`);
      await this.send();
    }
  }

  /** SCRAM-SHA-256 (RFC 7677), a stream restart (XEP-0206 §6) and a resource bound. */
  async login(domain: string, user: string, password: string, resource = "bosh"): Promise<void> {
    await this.authenticate(domain, user, password);
    await this.send(
      `<iq type='set' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    const bound = await this.next("iq");
    this.jid = bound.getChild("bind")?.getChildText("jid") ?? "";
    if (!this.jid) throw new Error(`bind failed: ${bound.toString()}`);
  }

  /** A new session, authenticated and restarted, up to the post-auth features. */
  async authenticate(domain: string, user: string, password: string): Promise<void> {
    await this.open(domain);
    await this.next("features");
    const scram = new ScramClient("sha256", user, password);
    await this.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${scram.first()}</auth>`,
    );
    const challenge = await this.next("challenge");
    await this.send(
      `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${scram.final(challenge.getText())}</response>`,
    );
    const success = await this.next("success");
    if (!scram.verify(success.getText())) throw new Error("the server's SCRAM signature is wrong");
    await this.send("", `to='${domain}' xml:lang='en' xmpp:restart='true' ${XBOSH}`);
    await this.next("features");
  }
}
