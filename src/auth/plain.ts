// SASL PLAIN, server side (RFC 4616). Only to be offered over an encrypted stream; that policy is
// the caller's. The password check itself is delegated (see verifyPassword in ./scram.js).

import { SaslFailure, type SaslMechanism, type SaslStep } from "./sasl.js";

export interface PlainServerOptions {
  /** authzid is "" when the client sent none. Resolves false for a wrong password or user. */
  verify(username: string, password: string, authzid: string): Promise<boolean>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

type State = "initial" | "empty-challenge-sent" | "busy" | "done";

/**
 * One PLAIN exchange: `[authzid] NUL authcid NUL passwd`. An empty first message (no initial
 * response) gets one empty challenge (RFC 6120 §6.4.2).
 */
export class PlainServer implements SaslMechanism {
  readonly name = "PLAIN";
  readonly #verify: PlainServerOptions["verify"];
  #state: State = "initial";

  constructor(opts: PlainServerOptions) {
    this.#verify = opts.verify;
  }

  async step(data: Buffer): Promise<SaslStep> {
    const state = this.#state;
    if (state === "busy" || state === "done") {
      throw new SaslFailure("malformed-request", "unexpected-step");
    }
    if (state === "initial" && data.length === 0) {
      this.#state = "empty-challenge-sent";
      return { kind: "challenge", data: Buffer.alloc(0) };
    }
    this.#state = "busy";
    try {
      return await this.#check(data);
    } finally {
      this.#state = "done";
    }
  }

  async #check(data: Buffer): Promise<SaslStep> {
    let message: string;
    try {
      message = utf8.decode(data);
    } catch {
      throw new SaslFailure("malformed-request");
    }
    const parts = message.split("\0");
    if (parts.length !== 3) throw new SaslFailure("malformed-request");
    const [authzid, username, password] = parts;
    if (username === "" || password === "") throw new SaslFailure("malformed-request");

    let ok: boolean;
    try {
      ok = await this.#verify(username, password, authzid);
    } catch (err) {
      if (err instanceof SaslFailure) throw err;
      throw new SaslFailure("temporary-auth-failure", undefined, { cause: err });
    }
    if (!ok) throw new SaslFailure("not-authorized");
    const step: SaslStep = { kind: "success", data: null, username };
    if (authzid !== "") step.authzid = authzid;
    return step;
  }
}
