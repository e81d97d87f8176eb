// mod_mam: XEP-0313 Message Archive Management (v2, with #extended) for user accounts, named
// as ejabberd's module.
//
// Handles:
//   user_send_packet (late)  a message the user sends goes into their archive (outgoing); not
//                            waited for, the sender's XEP-0198 acknowledgement is (handoff)
//   local_delivery (late)    a message for the user goes into their archive (incoming) before it
//                            is delivered or stored offline, and the copy gets the archive UID as
//                            a XEP-0359 <stanza-id by='user@host'/>, which carbons copy too
//   iq set <query/>          §4 queries; iq get <query/> the form (§4.1.5)
//   iq get <metadata/>       §5, the first and last entries; the same in every Bind2 <bound/>
//                            (XEP-0386 §Performing the bind), with ctx.bind2Bound
//   iq get/set <prefs/>      preferences, per user (XEP-0441, once XEP-0313 §6)
//   remove_user              the archive and preferences of a removed account go with it
// Retraction (XEP-0424, retraction.ts): a retraction the user sends or receives is archived like
// any message, and the message it names, if that peer sent it, becomes a tombstone in the
// user's archive, which later queries return instead of the content.
// Retention (retention.ts): `archive_expires_after`, and parleyctl delete_old_mam_messages.
// Disco: urn:xmpp:mam:2 and urn:xmpp:mam:2#extended on accounts (§7); XEP-0424's
// urn:xmpp:message-retract:1 and its #tombstone.
//
// Storage: the typed archive store (ctx.stores.archive), written through batcher.ts (group
// commit); preferences in the keyval store "mod_mam_prefs". A failed archive write never loses
// the message: it is delivered without a stanza-id and the failure is logged with the JID and
// counted (parley_mod_mam_archive_write_failures_total).
import {
  defineModule,
  opt,
  parseJID,
  type Element,
  type Handoff,
  type JID,
} from "../../src/moduleapi.js";
import { archivable, entryFields, NS_MAM, NS_SID, stripStanzaIds } from "./archiving.js";
import { ArchiveBatcher } from "./batcher.js";
import { queryForm } from "./form.js";
import { DEFAULT_POLICIES, parsePrefs, prefsElement, PrefsStore, type Prefs } from "./prefs.js";
import { archiveMetadata, metadata, ownArchive, runQuery } from "./query.js";
import { entombTo, NS_RETRACT, NS_RETRACT_0, retractedId, retractionBy } from "./retraction.js";
import { startRetention } from "./retention.js";

export default defineModule({
  name: "mod_mam",
  description: "XEP-0313: message archive of every account, queried by its clients",
  options: {
    default: opt.oneOf(
      DEFAULT_POLICIES,
      "always",
      "Archiving preference of users who set none (XEP-0441): always, never or roster",
    ),
    archive_expires_after: opt.integer(
      Infinity,
      "Seconds an archived message is kept (or infinity); older ones are deleted in the background",
      { min: 1, infinity: true },
    ),
    // ejabberd's: with true, a lost session's unacknowledged messages that were archived are
    // neither resent nor bounced (the client is assumed to fetch them from the archive).
    assume_mam_usage: {
      ...opt.boolean(false, "ejabberd's: skip resending archived unacknowledged messages"),
      notice: (v: unknown) =>
        v === true
          ? "Parley routes a lost session's unacknowledged messages again even when they are archived (as with false): a client that also syncs from the archive gets them twice, with the same stanza-id to drop one by"
          : undefined,
    },
  },
  start(ctx) {
    const archive = ctx.stores.archive;
    const batcher = new ArchiveBatcher(archive);
    // Issue 12: a failed archive write is logged and counted, and the message still goes.
    const failures = ctx.counter("archive_write_failures_total", "Messages not archived");
    const prefs = new PrefsStore(ctx, ctx.keyval<Prefs>("mod_mam_prefs"), ctx.options.default);
    ctx.onStop(() => batcher.flush());
    startRetention(ctx, archive, ctx.options.archive_expires_after);

    ctx.feature(NS_MAM, "account");
    ctx.feature(`${NS_MAM}#extended`, "account");
    // XEP-0424 §2, §4: retractions are archived, and what they retract becomes a tombstone.
    ctx.feature(NS_RETRACT, "account");
    ctx.feature(`${NS_RETRACT}#tombstone`, "account");
    ctx.feature(NS_RETRACT_0, "account");

    /**
     * The entry for `owner`'s archive, or nothing when the owner's preferences say no. The
     * stanza is read at once, before anything else may change it.
     */
    async function archiveFor(
      owner: JID,
      peer: JID,
      direction: "in" | "out",
      stanza: Element,
    ): Promise<{ id: string } | undefined> {
      const fields = entryFields(stanza);
      const ts = Date.now();
      if (!(await prefs.archives(owner.local, peer.bare().toString()))) return undefined;
      return batcher.append({
        owner: owner.bare().toString(),
        with: peer.toString(),
        ts,
        direction,
        ...fields,
      });
    }

    /**
     * XEP-0424: when `stanza` retracts a message, that message, if `peer` is the one who sent
     * it in `owner`'s archive (an "out" retraction retracts the owner's own message, an "in"
     * one the peer's: §5, the same bare JID), becomes a tombstone. Never rejects: a failure is
     * logged with the JID and the retraction still goes on to its recipient.
     */
    async function retract(
      owner: JID,
      peer: JID,
      direction: "in" | "out",
      stanza: Element,
      clientId: string,
    ): Promise<void> {
      const jid = owner.bare().toString();
      try {
        // The message it names may still be waiting in the batcher.
        await batcher.flush();
        const row = await archive.findByClientId(jid, peer.bare().toString(), direction, clientId);
        if (row) await entombTo(archive, row, ctx.parseXml, retractionBy(stanza));
      } catch (err) {
        ctx.log.error({ err, jid }, "could not retract an archived message");
      }
    }

    // Outgoing (§3: the sender's archive): in the late phase, once blocking and the like let the
    // message go on.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza, handoff }) => {
        if (stanza.name !== "message") return;
        const user = session.jid.bare();
        stripStanzaIds(stanza, user.toString());
        if (!stanza.attrs.to || !archivable(stanza)) return;
        let peer: JID;
        try {
          peer = parseJID(String(stanza.attrs.to));
        } catch {
          return; // the core refuses it as jid-malformed
        }
        // To the user's own account: archived once, as the incoming copy (§6.1.1).
        if (peer.bare().equals(user)) return;
        const release = handoff?.track();
        const target = retractedId(stanza);
        Promise.all([
          archiveFor(user, peer, "out", stanza).catch((err: unknown) => {
            failures.inc();
            ctx.log.error({ err, jid: user.toString() }, "could not archive a sent message");
          }),
          target !== undefined && retract(user, peer, "out", stanza, target),
        ]).finally(() => release?.());
      },
      "late",
    );

    // Incoming: before delivery or offline storage, so both get the stanza-id (XEP-0313 §3.5,
    // XEP-0359 §3).
    ctx.hook(
      "local_delivery",
      ({ from, to, stanza, handoff }) => {
        if (stanza.name !== "message") return;
        const owner = to.bare();
        stripStanzaIds(stanza, owner.toString());
        // Synchronous for what is not archived: the delivery of presence, IQs and chat states
        // does not wait a turn of the event loop.
        if (!archivable(stanza)) return;
        return archiveIncoming(owner, from, stanza, handoff);
      },
      "late",
    );

    async function archiveIncoming(
      owner: JID,
      from: JID,
      stanza: Element,
      handoff: Handoff | undefined,
    ): Promise<void> {
      // A message for nobody is bounced by the core; it gets no archive.
      if (
        ctx.server.sessions(owner).length === 0 &&
        !(await ctx.server.userExists(owner.local, owner.domain))
      ) {
        return;
      }
      const release = handoff?.track();
      const target = retractedId(stanza);
      try {
        const [done] = await Promise.all([
          archiveFor(owner, from, "in", stanza),
          target !== undefined && retract(owner, from, "in", stanza, target),
        ]);
        if (done) {
          stanza.append(ctx.xml("stanza-id", { xmlns: NS_SID, by: owner.toString(), id: done.id }));
        }
      } catch (err) {
        // Delivered anyway, without a stanza-id: the message matters more than its archive.
        failures.inc();
        ctx.log.error({ err, jid: owner.toString() }, "could not archive a received message");
      } finally {
        release?.();
      }
    }

    ctx.iq("set", NS_MAM, "query", (req) => runQuery(ctx, archive, req), "account");
    // §4.1.5: the form, so clients learn the fields.
    ctx.iq(
      "get",
      NS_MAM,
      "query",
      (req) => {
        ownArchive(req);
        return ctx.xml("query", { xmlns: NS_MAM }, queryForm());
      },
      "account",
    );
    ctx.iq("get", NS_MAM, "metadata", (req) => metadata(archive, req), "account");
    // XEP-0386 §Performing the bind: the same, "at the precise time of resource binding", in the
    // <bound/> of every Bind2 login, so the client plans its catch-up without asking.
    ctx.bind2Bound({ bound: (account) => archiveMetadata(archive, account.toString()) });

    // XEP-0441 preferences (the <prefs/> of urn:xmpp:mam:2).
    ctx.iq(
      "get",
      NS_MAM,
      "prefs",
      async (req) => {
        ownArchive(req);
        return prefsElement(await prefs.get(req.to.local));
      },
      "account",
    );
    ctx.iq(
      "set",
      NS_MAM,
      "prefs",
      async (req) => {
        ownArchive(req);
        const next = parsePrefs(req.payload);
        await prefs.set(req.to.local, next);
        // XEP-0441: the server answers with the preferences now in force.
        return prefsElement(next);
      },
      "account",
    );

    ctx.hook("remove_user", async ({ username, host }) => {
      await prefs.remove(username);
      await archive.removeArchive(`${username}@${host}`);
    });
  },
});
