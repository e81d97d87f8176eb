// mod_time: XEP-0202 Entity Time for the server: its UTC time and its time zone offset.
import { defineModule, xml } from "../src/moduleapi.js";

const NS_TIME = "urn:xmpp:time";

export default defineModule({
  name: "mod_time",
  description: "XEP-0202: answers entity time queries to the server",
  options: {},
  start(ctx) {
    ctx.feature(NS_TIME); // XEP-0202 §4
    // XEP-0202 §2: <tzo/> and <utc/> are both required in a result.
    ctx.iq("get", NS_TIME, "time", () => {
      const now = new Date();
      return xml(
        "time",
        { xmlns: NS_TIME },
        xml("tzo", {}, timezoneOffset(now)),
        xml("utc", {}, utcDateTime(now)),
      );
    });
  },
});

/** The server's offset from UTC as a XEP-0082 TZD, always in the ±hh:mm form. */
export function timezoneOffset(at: Date): string {
  const minutes = -at.getTimezoneOffset(); // getTimezoneOffset is UTC minus local
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${sign}${hh}:${mm}`;
}

/** XEP-0082 §3.3 dateTime in UTC, to the second: 2006-12-19T17:58:35Z. */
export function utcDateTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}
