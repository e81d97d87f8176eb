// Types shared by the SASL mechanisms (RFC 4422, as profiled for XMPP by RFC 6120 §6).

/** RFC 6120 §6.5: SASL failure conditions. */
export type SaslFailureCondition =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

/**
 * A failed authentication exchange. `condition` goes into the `<failure/>` element; `text`, when
 * present, is safe to send to the client as the optional `<text/>` (it never holds passwords,
 * proofs, nonces or usernames). `cause` keeps an underlying error (e.g. a failing database lookup)
 * for the server's own logs.
 */
export class SaslFailure extends Error {
  constructor(
    readonly condition: SaslFailureCondition,
    readonly text?: string,
    options?: { cause?: unknown },
  ) {
    super(
      text === undefined ? `SASL failure: ${condition}` : `SASL failure: ${condition} (${text})`,
      options,
    );
    this.name = "SaslFailure";
  }
}

/**
 * A failure of channel binding (RFC 5802 §6), not of credentials: `not-authorized`, with a text
 * that starts with the RFC 5802 §7 server-error-value. Not counted as a password guess.
 */
export class ChannelBindingFailure extends SaslFailure {
  constructor(
    readonly serverError:
      | "unsupported-channel-binding-type"
      | "server-does-support-channel-binding"
      | "channel-bindings-dont-match",
    detail: string,
  ) {
    super("not-authorized", `${serverError}: ${detail}`);
    this.name = "ChannelBindingFailure";
  }
}

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  | {
      kind: "success";
      /** Additional data with success (RFC 6120 §6.3.10), or null for none. */
      data: Buffer | null;
      /** The authentication identity as sent by the client (SCRAM-unescaped), not normalized. */
      username: string;
      /** The authorization identity the client asked for, when it sent a non-empty one. */
      authzid?: string;
    };
// Failures are thrown (rejected) as SaslFailure.

export interface SaslMechanism {
  readonly name: string;
  /**
   * Feeds the next client message (already base64-decoded) to the mechanism. Resolves with the
   * next challenge or with success; rejects with SaslFailure. A step after the exchange finished
   * (either way), or while a previous step is still pending, fails with `malformed-request`.
   */
  step(data: Buffer): Promise<SaslStep>;
}
