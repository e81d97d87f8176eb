// SCRAM credentials as both drivers keep them: a scram_credentials row per hash, and the
// alternate keys of that row (scram_alternates) in order.
import type { ScramCredentials, ScramHash } from "../auth/scram.js";

/** A scram_credentials row; the columns are named alike in every engine. */
export interface CredentialRow {
  salt: Buffer;
  iterations: number;
  stored_key: Buffer;
  server_key: Buffer;
}

/** The row and its alternates as ScramCredentials (`alternates` only when there are some). */
export function credentialsOf(
  hash: ScramHash,
  row: CredentialRow,
  alternates: { storedKey: Buffer; serverKey: Buffer }[],
): ScramCredentials {
  const creds: ScramCredentials = {
    hash,
    salt: row.salt,
    iterations: row.iterations,
    storedKey: row.stored_key,
    serverKey: row.server_key,
  };
  if (alternates.length > 0) creds.alternates = alternates;
  return creds;
}
