// Service discovery in module tests: what an entity advertises (XEP-0030 §3.1).
import { xml, type TestClient } from "../../src/testkit/index.js";

const NS_INFO = "http://jabber.org/protocol/disco#info";
let seq = 0;

/** The disco#info features of `to`, asked by `c`. */
export async function features(c: TestClient, to: string): Promise<string[]> {
  const id = `disco${++seq}`;
  await c.send(xml("iq", { type: "get", id, to }, xml("query", { xmlns: NS_INFO })));
  const res = await c.next((el) => el.name === "iq" && el.attrs.id === id);
  return (res.getChild("query", NS_INFO)?.getChildren("feature") ?? []).map(
    (f) => f.attrs.var as string,
  );
}
