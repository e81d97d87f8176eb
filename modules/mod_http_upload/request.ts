// Slot requests (XEP-0363 §4) and their errors (§6).
import { StanzaError, xml, type Element, type JID } from "../../src/moduleapi.js";
import { slotPath } from "./http.js";
import { badFilename, parseMediaType } from "./media.js";
import { NS_UPLOAD, type UploadService } from "./service.js";
import { MAX_PENDING_PER_USER, type Slot } from "./slots.js";
import { userdirOf } from "./store.js";

/** The answer to <request filename size content-type/>: a slot, or the error §6 names. */
export function requestSlot(up: UploadService, from: JID, request: Element): Element {
  const o = up.ctx.options;
  if (!mayUpload(up, from)) {
    // §6: "Only premium members are allowed to upload files" is a forbidden (type auth).
    throw new StanzaError("forbidden", "Only users of this server may upload files");
  }
  const filename = String(request.attrs.filename ?? "");
  const bad = badFilename(filename);
  if (bad) throw new StanzaError("bad-request", bad);
  const sizeText = String(request.attrs.size ?? "");
  const size = Number(sizeText);
  // The schema's size is an xs:positiveInteger.
  if (!/^[1-9][0-9]*$/.test(sizeText) || !Number.isSafeInteger(size)) {
    throw new StanzaError("bad-request", "size must be a positive whole number of bytes");
  }
  if (size > o.max_size) {
    throw new StanzaError(
      "not-acceptable",
      `File too large. The maximum file size is ${o.max_size} bytes`,
      "modify",
      xml("file-too-large", { xmlns: NS_UPLOAD }, xml("max-file-size", {}, String(o.max_size))),
    );
  }
  const typeText = String(request.attrs["content-type"] ?? "");
  const contentType = typeText === "" ? undefined : parseMediaType(typeText);
  if (typeText !== "" && !contentType) {
    throw new StanzaError("bad-request", "content-type is not a media type");
  }
  const owner = from.bare().toString();
  const userdir = userdirOf(owner);
  checkQuota(up, owner, userdir, size);
  const slot = up.slots.create({ userdir, owner, filename, size, contentType }, o.secret_length);
  return xml(
    "slot",
    { xmlns: NS_UPLOAD },
    xml("put", { url: up.putUrl + slotPath(userdir, slot.token, filename) }),
    xml("get", { url: up.getUrl + slotPath(userdir, slot.token, filename) }),
  );
}

/** ejabberd's access rule, asked with the requester's JID (`local`: this server's accounts). */
function mayUpload(up: UploadService, from: JID): boolean {
  return up.ctx.allowed(up.ctx.options.access, from);
}

/**
 * Slots not yet used hold their bytes: with them the request must fit the hard quota (files
 * already stored do not count here; an upload over the quota removes the oldest ones,
 * quota.ts). Over it is resource-constraint of type wait (§6: "exceeding a personal quota"),
 * with a <retry/> at the time the first pending slot expires.
 */
function checkQuota(up: UploadService, owner: string, userdir: string, size: number): void {
  const pending = up.slots.pendingOf(userdir);
  const held = pending.reduce((sum, s) => sum + s.size, 0);
  const hard = up.quota?.(owner)?.hard ?? Infinity;
  if (pending.length < MAX_PENDING_PER_USER && size + held <= hard) return;
  const text =
    pending.length >= MAX_PENDING_PER_USER
      ? `Quota reached: at most ${MAX_PENDING_PER_USER} unused upload slots at a time`
      : `Quota reached: at most ${hard} bytes may be uploaded (unused slots hold ${held})`;
  throw new StanzaError("resource-constraint", text, "wait", retry(pending));
}

function retry(pending: Slot[]): Element | undefined {
  if (pending.length === 0) return undefined;
  const first = Math.min(...pending.map((s) => s.expires));
  // §6: a XEP-0082 DateTime in UTC.
  const stamp = new Date(first).toISOString().replace(/\.\d{3}Z$/, "Z");
  return xml("retry", { xmlns: NS_UPLOAD, stamp });
}
