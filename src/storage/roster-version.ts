// The roster version string (RFC 6121 §2.6.1: opaque to clients), the same from every driver.
import { randomBytes } from "node:crypto";

/**
 * A counter qualified by an epoch drawn when the user's version row is created, so that a
 * version cached by a client for a since deleted account never matches its namesake's roster.
 */
export function rosterVersion(epoch: string, counter: number): string {
  return `${counter}-${epoch}`;
}

export function newRosterEpoch(): string {
  return randomBytes(4).toString("hex");
}
