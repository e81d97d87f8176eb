// Room nicknames. XEP-0045 §7.2 leaves nicks to the service beyond being a JID resourcepart;
// Parley applies the PRECIS Nickname profile (RFC 8266) so that "Alice", " Alice " and
// "Ａｌｉｃｅ" cannot be three different people in one room.

/** RFC 8266 §2.2 enforcement: the nick the room uses, or null when nothing is left of it. */
export function prepareNick(raw: string): string | null {
  const nick = raw
    // §2.2 rule 1: non-ASCII spaces become ASCII space.
    .replace(/\p{Zs}/gu, " ")
    // Rule 4 (NFKC), which also maps fullwidth and halfwidth forms (width mapping).
    .normalize("NFKC")
    // Rule 3: no leading or trailing space, and runs of spaces become one.
    .trim()
    .replace(/ {2,}/g, " ");
  return nick === "" ? null : nick;
}

/** RFC 8266 §2.4 comparison: two nicks are the same when these keys are equal. */
export function nickKey(nick: string): string {
  return nick.toLowerCase().normalize("NFKC");
}
