// XEP-0398 §4: the server puts the user's vCard avatar hash (XEP-0153) in every available
// presence the user sends, broadcast or directed (a MUC join too), so clients need not fetch
// their own vCard on each connect to work it out.
import { NS_VCARD_UPDATE, xml, type Element, type ModuleContext } from "../../src/moduleapi.js";
import type { VcardStore } from "./store.js";

export function startPresenceHash(ctx: ModuleContext<unknown>, store: VcardStore): void {
  // Not an async function: for every other stanza the hook chain stays synchronous, so the
  // sender's stream is not paused for a turn of the event loop per message.
  ctx.hook("user_send_packet", ({ session, stanza }) => {
    if (stanza.name !== "presence" || stanza.attrs.type !== undefined) return;
    const updates = stanza.getChildren("x", NS_VCARD_UPDATE);
    // An empty <photo/> from the client says "no avatar here" and is kept as it is; an <x/>
    // without <photo/> ("not ready") is overwritten, and so is a hash other than the server's
    // (which the XEP allows: the server holds the vCard).
    if (updates.some((x) => isEmptyPhoto(x.getChild("photo")))) return;
    return store.hold(session.jid.local).then((hash) => {
      stanza.children = stanza.children.filter((c) => !updates.includes(c as Element));
      stanza.append(
        xml("x", { xmlns: NS_VCARD_UPDATE }, xml("photo", {}, ...(hash ? [hash] : []))),
      );
    });
  });
  // The hash stays in memory while the user has a session here.
  ctx.hook("sm_remove_connection", ({ session }) => {
    if (ctx.server.sessions(session.jid.bare()).length === 0) store.release(session.jid.local);
  });
  ctx.hook("remove_user", ({ username }) => store.release(username));
}

function isEmptyPhoto(photo: Element | undefined): boolean {
  return photo !== undefined && photo.getText().trim() === "";
}
