// mod_muc in a cluster (issue 17): each room is served by one node at a time, which the core
// picks (ctx.service's `partition`: src/cluster/rooms.ts) and hands every stanza for the room
// to. What the module does when a room comes to this node, when this node leaves the cluster,
// and when a room was taken from it:
//
// - acquire: the room is loaded from the store as it is now (another node may have changed its
//   configuration, affiliations or subject since this node started), and whatever copy this
//   node had goes, occupants included. Occupants are not carried over from the node that
//   served the room before: their clients find out with a XEP-0410 self-ping (not-acceptable)
//   or when their next message bounces (§7.4), and join again. A node that died sends nobody
//   anything (it cannot); a node that leaves cleanly says goodbye (leave).
// - leave (a clean stop): every occupant is told it was removed because the service is
//   shutting down (§15.6.2 status 332), temporary rooms go, and the room writes and archive
//   appends are committed before the rooms are given up, so the next node reads them.
// - lost: another node took a room while this node's lease had lapsed; this node's copy is
//   dropped without a word (the room is not this node's to speak for any more).
import type { JID } from "../../src/moduleapi.js";
import { NS_MUC_USER } from "./room.js";
import type { MucService } from "./service.js";
import { roomFromStore } from "./store.js";

export async function acquire(svc: MucService, address: JID): Promise<void> {
  const name = address.local;
  const stale = svc.rooms.get(name);
  if (stale) svc.forget(stale);
  // This node may have served it before (and lost it): its own writes of the room land first.
  await svc.writes.settled(name);
  const stored = await svc.ctx.stores.muc.loadRoom(svc.domain, name);
  if (!stored) {
    // A temporary room of a node that died leaves no trace, in the listing neither.
    svc.unlist(name);
    return;
  }
  const { room, history } = roomFromStore(stored, address, svc.ctx.log);
  svc.history.load(room, history);
  svc.rooms.set(name, room);
  svc.relist(room, true);
}

export async function leave(svc: MucService): Promise<void> {
  const { xml } = svc.ctx;
  for (const room of [...svc.rooms.values()]) {
    for (const occ of [...room.occupants.values()]) {
      svc.removeOccupant(room, occ);
      // §15.6.2, 332: removed because the service is shutting down; to each session only its
      // own presence (everyone leaves at once: telling each about the others is noise).
      const pres = xml(
        "presence",
        { from: room.occupantJid(occ.nick), type: "unavailable" },
        xml(
          "x",
          { xmlns: NS_MUC_USER },
          xml("item", { affiliation: svc.affiliation(room, occ.jid), role: "none" }),
          xml("status", { code: "110" }),
          xml("status", { code: "332" }),
        ),
      );
      svc.broadcast(pres, [occ]);
    }
    svc.maybeVanish(room);
  }
  await svc.archive.idle();
  await svc.writes.idle();
}

export function lost(svc: MucService, address: JID): void {
  const room = svc.rooms.get(address.local);
  if (room) svc.forget(room);
}
