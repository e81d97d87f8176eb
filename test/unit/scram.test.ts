import { strict as assert } from "node:assert";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import {
  DEFAULT_ITERATIONS,
  ScramServer,
  deriveCredentials,
  deriveCredentialsSync,
  deriveKeys,
  mechanismName,
  passwordVariants,
  verifyPassword,
  type ScramCredentials,
  type ScramHash,
  type ScramServerOptions,
} from "../../src/auth/scram.js";
import {
  ChannelBindingFailure,
  SaslFailure,
  type SaslFailureCondition,
  type SaslStep,
} from "../../src/auth/sasl.js";
import { PrecisError } from "../../src/precis.js";

// ---------------------------------------------------------------------------------------------
// A tiny client side of SCRAM (RFC 5802 §3), enough to drive the server.

const HASH_LEN: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

function b64(s: string | Buffer): string {
  return (typeof s === "string" ? Buffer.from(s, "utf8") : s).toString("base64");
}

function parseAttrs(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(",")) out.set(part.slice(0, 1), part.slice(2));
  return out;
}

interface ClientFinalResult {
  message: string;
  expectedServerSignature: string;
}

/** Builds the client-final-message for a server-first-message (RFC 5802 §3). */
function clientFinal(opts: {
  hash: ScramHash;
  password: string;
  clientFirstBare: string;
  serverFirst: string;
  gs2Header?: string;
  cbindData?: Buffer;
  nonceOverride?: string;
}): ClientFinalResult {
  const { hash } = opts;
  const attrs = parseAttrs(opts.serverFirst);
  const nonce = opts.nonceOverride ?? attrs.get("r")!;
  const salt = Buffer.from(attrs.get("s")!, "base64");
  const iterations = Number(attrs.get("i"));
  const salted = pbkdf2Sync(opts.password, salt, iterations, HASH_LEN[hash], hash);
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const serverKey = createHmac(hash, salted).update("Server Key").digest();
  const cbind = Buffer.concat([
    Buffer.from(opts.gs2Header ?? "n,,", "utf8"),
    opts.cbindData ?? Buffer.alloc(0),
  ]);
  const withoutProof = `c=${b64(cbind)},r=${nonce}`;
  const authMessage = `${opts.clientFirstBare},${opts.serverFirst},${withoutProof}`;
  const clientSignature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ clientSignature[i];
  const serverSignature = createHmac(hash, serverKey).update(authMessage).digest();
  return {
    message: `${withoutProof},p=${b64(proof)}`,
    expectedServerSignature: `v=${b64(serverSignature)}`,
  };
}

/** Runs a whole exchange: returns the server-first-message and the final outcome. */
async function exchange(
  server: ScramServer,
  opts: {
    hash: ScramHash;
    password: string;
    user?: string;
    clientNonce?: string;
    gs2Header?: string;
    cbindData?: Buffer;
  },
): Promise<{ serverFirst: string; final: Promise<SaslStep>; expected: string }> {
  const gs2Header = opts.gs2Header ?? "n,,";
  const bare = `n=${opts.user ?? "user"},r=${opts.clientNonce ?? "clientnonce123"}`;
  const first = await server.step(Buffer.from(gs2Header + bare, "utf8"));
  assert.equal(first.kind, "challenge");
  const serverFirst = first.data!.toString("utf8");
  const cf = clientFinal({
    hash: opts.hash,
    password: opts.password,
    clientFirstBare: bare,
    serverFirst,
    gs2Header,
    cbindData: opts.cbindData,
  });
  return {
    serverFirst,
    final: server.step(Buffer.from(cf.message, "utf8")),
    expected: cf.expectedServerSignature,
  };
}

function failsWith(condition: SaslFailureCondition) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SaslFailure, `expected SaslFailure, got ${String(err)}`);
    assert.equal(err.condition, condition);
    return true;
  };
}

function successData(step: SaslStep): string {
  assert.equal(step.kind, "success");
  assert.ok(step.data);
  return step.data.toString("utf8");
}

// ---------------------------------------------------------------------------------------------

const RFC5802_SALT = Buffer.from("QSXCR+Q6sek8bf92", "base64");
const RFC7677_SALT = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");

function makeServer(
  creds: Record<string, ScramCredentials>,
  overrides: Partial<ScramServerOptions> = {},
): { server: ScramServer; lookups: string[] } {
  const lookups: string[] = [];
  const hash = overrides.hash ?? "sha256";
  const server = new ScramServer({
    hash,
    plus: false,
    channelBindings: new Map(),
    bindingOffered: false,
    lookup: async (username) => {
      lookups.push(username);
      return creds[username] ?? null;
    },
    ...overrides,
  });
  return { server, lookups };
}

describe("SCRAM (RFC 5802, RFC 7677)", () => {
  const sha1Pencil = deriveCredentialsSync("pencil", "sha1", RFC5802_SALT, 4096);
  const sha256Pencil = deriveCredentialsSync("pencil", "sha256", RFC7677_SALT, 4096);
  const sha256Random = deriveCredentialsSync("pencil", "sha256");

  describe("mechanismName", () => {
    it("names the four mechanisms (RFC 5802 §4, RFC 7677 §2)", () => {
      assert.equal(mechanismName("sha1", false), "SCRAM-SHA-1");
      assert.equal(mechanismName("sha1", true), "SCRAM-SHA-1-PLUS");
      assert.equal(mechanismName("sha256", false), "SCRAM-SHA-256");
      assert.equal(mechanismName("sha256", true), "SCRAM-SHA-256-PLUS");
      assert.equal(makeServer({}, { hash: "sha1", plus: true }).server.name, "SCRAM-SHA-1-PLUS");
    });
  });

  describe("credentials", () => {
    it("deriveCredentials and deriveCredentialsSync agree", async () => {
      const a = await deriveCredentials("pencil", "sha256", RFC7677_SALT, 4096);
      assert.deepEqual(a, sha256Pencil);
      assert.equal(a.storedKey.length, 32);
      assert.equal(a.serverKey.length, 32);
    });

    it("defaults to a fresh random salt and DEFAULT_ITERATIONS", async () => {
      const a = await deriveCredentials("pencil", "sha1");
      const b = deriveCredentialsSync("pencil", "sha1");
      assert.equal(a.iterations, DEFAULT_ITERATIONS);
      assert.equal(DEFAULT_ITERATIONS, 4096);
      assert.ok(a.salt.length >= 16);
      assert.notDeepEqual(a.salt, b.salt);
      assert.equal(a.hash, "sha1");
    });

    it("rejects nonsensical iteration counts", async () => {
      await assert.rejects(deriveCredentials("pencil", "sha1", undefined, 0), RangeError);
      assert.throws(() => deriveCredentialsSync("pencil", "sha1", undefined, 1.5), RangeError);
    });

    it("RFC 8265 §4.2: passwords are prepared with OpaqueString", async () => {
      // Non-ASCII spaces map to U+0020; control characters are disallowed.
      const a = deriveCredentialsSync("pen\u00a0cil", "sha256", RFC7677_SALT, 4096);
      assert.deepEqual(a, deriveCredentialsSync("pen cil", "sha256", RFC7677_SALT, 4096));
      assert.equal(await verifyPassword("pen\u2003cil", a), true);
      await assert.rejects(deriveCredentials("a\u0007b", "sha256"), PrecisError);
      assert.throws(() => deriveCredentialsSync("", "sha1"), PrecisError);
      assert.equal(await verifyPassword("a\u0007b", sha256Random), false);
    });

    it("verifyPassword accepts the right password and refuses a wrong one", async () => {
      assert.equal(await verifyPassword("pencil", sha1Pencil), true);
      assert.equal(await verifyPassword("pencil", sha256Random), true);
      assert.equal(await verifyPassword("Pencil", sha256Random), false);
      assert.equal(await verifyPassword("", sha256Random), false);
    });
  });

  describe("RFC test vectors", () => {
    it("RFC 5802 §5: SCRAM-SHA-1 example exchange", async () => {
      const { server, lookups } = makeServer(
        { user: sha1Pencil },
        { hash: "sha1", nonceSuffix: () => "3rfcNHYJY1ZVvWVs7j" },
      );
      const first = await server.step(Buffer.from("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
      assert.equal(first.kind, "challenge");
      const serverFirst = first.data.toString();
      assert.equal(
        serverFirst,
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
      );
      assert.deepEqual(lookups, ["user"]);

      const clientFinalMessage =
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
      // The test client computes the same proof as the RFC.
      const cf = clientFinal({
        hash: "sha1",
        password: "pencil",
        clientFirstBare: "n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        serverFirst,
      });
      assert.equal(cf.message, clientFinalMessage);

      const final = await server.step(Buffer.from(clientFinalMessage));
      assert.equal(successData(final), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
      assert.equal(final.kind === "success" && final.username, "user");
      assert.equal(final.kind === "success" && final.authzid, undefined);
    });

    it("RFC 7677 §3: SCRAM-SHA-256 example exchange", async () => {
      const { server } = makeServer(
        { user: sha256Pencil },
        { hash: "sha256", nonceSuffix: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" },
      );
      const first = await server.step(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
      assert.equal(first.kind, "challenge");
      const serverFirst = first.data.toString();
      assert.equal(
        serverFirst,
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      );
      const clientFinalMessage =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
      const cf = clientFinal({
        hash: "sha256",
        password: "pencil",
        clientFirstBare: "n=user,r=rOprNGfwEbeRWgbNEkqO",
        serverFirst,
      });
      assert.equal(cf.message, clientFinalMessage);

      const final = await server.step(Buffer.from(clientFinalMessage));
      assert.equal(successData(final), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    });
  });

  describe("exchange", () => {
    it("RFC 5802 §5.1: server nonce is the client nonce plus >= 18 random bytes", async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const { server } = makeServer({ user: sha256Random });
        const first = await server.step(Buffer.from("n,,n=user,r=abc"));
        assert.equal(first.kind, "challenge");
        const r = parseAttrs(first.data.toString()).get("r")!;
        assert.ok(r.startsWith("abc"));
        const suffix = Buffer.from(r.slice(3), "base64");
        assert.ok(suffix.length >= 18);
        seen.add(r);
      }
      assert.equal(seen.size, 3);
    });

    it("RFC 5802 §3: succeeds with a random salt and returns ServerSignature", async () => {
      const { server } = makeServer({ user: sha256Random });
      const { final, expected } = await exchange(server, { hash: "sha256", password: "pencil" });
      assert.equal(successData(await final), expected);
    });

    it("RFC 5802 §3: wrong password → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random });
      const { final } = await exchange(server, { hash: "sha256", password: "pencil2" });
      await assert.rejects(final, failsWith("not-authorized"));
    });

    it("RFC 5802 §9: unknown user gets a plausible server-first and fails only at the end", async () => {
      const { server, lookups } = makeServer({ user: sha256Random });
      const { serverFirst, final } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        user: "nobody",
        clientNonce: "xyz",
      });
      assert.deepEqual(lookups, ["nobody"]);
      const attrs = parseAttrs(serverFirst);
      assert.deepEqual([...attrs.keys()], ["r", "s", "i"]);
      assert.ok(attrs.get("r")!.startsWith("xyz"));
      assert.equal(Buffer.from(attrs.get("s")!, "base64").length, sha256Random.salt.length);
      assert.equal(attrs.get("i"), String(DEFAULT_ITERATIONS));
      await assert.rejects(final, (err: unknown) => {
        failsWith("not-authorized")(err);
        const text = (err as SaslFailure).text ?? "";
        assert.ok(!/unknown|user/i.test(text));
        return true;
      });

      // The same unknown username gets the same fake salt; another one gets another.
      const salts: string[] = [];
      for (const user of ["nobody", "nobody", "somebody"]) {
        const first = await makeServer({}).server.step(Buffer.from(`n,,n=${user},r=abc`));
        assert.equal(first.kind, "challenge");
        salts.push(parseAttrs(first.data.toString()).get("s")!);
      }
      assert.equal(salts[0], attrs.get("s"));
      assert.equal(salts[0], salts[1]);
      assert.notEqual(salts[0], salts[2]);
    });

    it("credentials for another hash are treated like an unknown user", async () => {
      const { server } = makeServer({ user: sha1Pencil }, { hash: "sha256" });
      const { serverFirst, final } = await exchange(server, { hash: "sha256", password: "pencil" });
      assert.notEqual(parseAttrs(serverFirst).get("s"), sha1Pencil.salt.toString("base64"));
      await assert.rejects(final, failsWith("not-authorized"));
    });

    it("RFC 5802 §5.1: tampered nonce in client-final → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random });
      const bare = "n=user,r=abcdef";
      const first = await server.step(Buffer.from(`n,,${bare}`));
      assert.equal(first.kind, "challenge");
      const serverFirst = first.data.toString();
      const nonce = parseAttrs(serverFirst).get("r")!;
      const cf = clientFinal({
        hash: "sha256",
        password: "pencil",
        clientFirstBare: bare,
        serverFirst,
        nonceOverride: nonce.slice(0, -1) + (nonce.endsWith("A") ? "B" : "A"),
      });
      await assert.rejects(server.step(Buffer.from(cf.message)), failsWith("not-authorized"));
    });

    it("RFC 5802 §5.1: tampered proof → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random });
      const bare = "n=user,r=abcdef";
      const first = await server.step(Buffer.from(`n,,${bare}`));
      assert.equal(first.kind, "challenge");
      const serverFirst = first.data.toString();
      const cf = clientFinal({
        hash: "sha256",
        password: "pencil",
        clientFirstBare: bare,
        serverFirst,
      });
      const [withoutProof, proofB64] = cf.message.split(",p=");
      const proof = Buffer.from(proofB64, "base64");
      proof[0] ^= 1;
      const msg = `${withoutProof},p=${proof.toString("base64")}`;
      await assert.rejects(server.step(Buffer.from(msg)), failsWith("not-authorized"));
    });

    it("RFC 5802 §5.1: proof of the wrong length → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random });
      const first = await server.step(Buffer.from("n,,n=user,r=abc"));
      assert.equal(first.kind, "challenge");
      const nonce = parseAttrs(first.data.toString()).get("r")!;
      const msg = `c=biws,r=${nonce},p=${b64(Buffer.alloc(20))}`;
      await assert.rejects(server.step(Buffer.from(msg)), failsWith("not-authorized"));
    });

    it("RFC 5802 §5.1: SCRAM-escaped username is unescaped for lookup and success", async () => {
      const { server, lookups } = makeServer({ "us,er=x": sha256Random });
      const { final } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        user: "us=2Cer=3Dx",
      });
      const step = await final;
      assert.deepEqual(lookups, ["us,er=x"]);
      assert.equal(step.kind === "success" && step.username, "us,er=x");
    });

    it("RFC 5802 §5.1: authzid is unescaped and returned; extensions are ignored", async () => {
      const { server } = makeServer({ user: sha256Random });
      const gs2Header = "n,a=admin=2C@example.com,";
      const bare = "n=user,r=abc,x=some-extension";
      const first = await server.step(Buffer.from(gs2Header + bare));
      assert.equal(first.kind, "challenge");
      const cf = clientFinal({
        hash: "sha256",
        password: "pencil",
        clientFirstBare: bare,
        serverFirst: first.data.toString(),
        gs2Header,
      });
      const step = await server.step(Buffer.from(cf.message));
      assert.equal(successData(step), cf.expectedServerSignature);
      assert.equal(step.kind === "success" && step.authzid, "admin,@example.com");
      assert.equal(step.kind === "success" && step.username, "user");
    });

    it("RFC 6120 §6.4.2: an empty initial response gets one empty challenge", async () => {
      const { server } = makeServer({ user: sha256Random });
      const empty = await server.step(Buffer.alloc(0));
      assert.equal(empty.kind, "challenge");
      assert.equal(empty.data.length, 0);
      const { final, expected } = await exchange(server, { hash: "sha256", password: "pencil" });
      assert.equal(successData(await final), expected);

      const { server: s2 } = makeServer({ user: sha256Random });
      await s2.step(Buffer.alloc(0));
      await assert.rejects(s2.step(Buffer.alloc(0)), failsWith("malformed-request"));
    });

    it("a failing lookup → temporary-auth-failure", async () => {
      const server = new ScramServer({
        hash: "sha256",
        plus: false,
        channelBindings: new Map(),
        bindingOffered: false,
        lookup: async () => {
          throw new Error("database is down");
        },
      });
      await assert.rejects(
        server.step(Buffer.from("n,,n=user,r=abc")),
        failsWith("temporary-auth-failure"),
      );
    });
  });

  describe("malformed messages (RFC 5802 §7 grammar)", () => {
    const badFirst: [string, string | Buffer][] = [
      ["no gs2 header", "n=user,r=abc"],
      ["unknown cbind flag", "x,,n=user,r=abc"],
      ["authzid without a=", "n,user,n=user,r=abc"],
      ["empty authzid value", "n,a=,n=user,r=abc"],
      ["missing username", "n,,r=abc"],
      ["empty username", "n,,n=,r=abc"],
      ["missing nonce", "n,,n=user"],
      ["empty nonce", "n,,n=user,r="],
      ["attributes out of order", "n,,r=abc,n=user"],
      ["bad escape =2X", "n,,n=us=2Xer,r=abc"],
      ["lower-case escape =2c", "n,,n=us=2cer,r=abc"],
      ["bare = in username", "n,,n=us=er,r=abc"],
      ["truncated escape", "n,,n=user=2,r=abc"],
      ["reserved m= extension", "n,,m=ext,n=user,r=abc"],
      ["empty extension", "n,,n=user,r=abc,"],
      ["malformed extension", "n,,n=user,r=abc,xy=1"],
      ["NUL in username", "n,,n=us\0er,r=abc"],
      ["non-printable nonce", "n,,n=user,r=ab c"],
      ["non-ASCII nonce", "n,,n=user,r=abcé"],
      ["invalid UTF-8", Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])],
      ["empty cb-name", "p=,,n=user,r=abc"],
    ];
    for (const [what, msg] of badFirst) {
      it(`client-first: ${what} → malformed-request`, async () => {
        const { server, lookups } = makeServer({ user: sha256Random });
        await assert.rejects(server.step(Buffer.from(msg)), failsWith("malformed-request"));
        assert.deepEqual(lookups, []);
        // The exchange is over after a failure.
        await assert.rejects(
          server.step(Buffer.from("n,,n=user,r=abc")),
          failsWith("malformed-request"),
        );
      });
    }

    const badFinal: [string, (nonce: string, proof: string) => string | Buffer][] = [
      ["missing proof", (n) => `c=biws,r=${n}`],
      ["proof not last", (n, p) => `c=biws,p=${p},r=${n}`],
      ["missing c=", (n, p) => `r=${n},p=${p}`],
      ["empty c=", (n, p) => `c=,r=${n},p=${p}`],
      ["c= not base64", (n, p) => `c=bi*s,r=${n},p=${p}`],
      ["proof not base64", (n) => `c=biws,r=${n},p=!!!!`],
      ["proof base64 without padding", (n, p) => `c=biws,r=${n},p=${p.replace(/=+$/, "")}`],
      ["empty extension", (n, p) => `c=biws,r=${n},,p=${p}`],
      ["NUL", (n, p) => `c=biws,r=${n},p=${p}\0`],
      ["invalid UTF-8", () => Buffer.from([0x63, 0x3d, 0xc3, 0x28])],
    ];
    for (const [what, build] of badFinal) {
      it(`client-final: ${what} → malformed-request`, async () => {
        const { server } = makeServer({ user: sha256Random });
        const first = await server.step(Buffer.from("n,,n=user,r=abc"));
        assert.equal(first.kind, "challenge");
        const nonce = parseAttrs(first.data.toString()).get("r")!;
        const msg = build(nonce, b64(Buffer.alloc(32, 7)));
        await assert.rejects(server.step(Buffer.from(msg)), failsWith("malformed-request"));
      });
    }

    it("a step after success → malformed-request", async () => {
      const { server } = makeServer({ user: sha256Random });
      const { final } = await exchange(server, { hash: "sha256", password: "pencil" });
      await final;
      await assert.rejects(server.step(Buffer.from("c=biws")), failsWith("malformed-request"));
    });

    it("a step after a failed final → malformed-request", async () => {
      const { server } = makeServer({ user: sha256Random });
      const { final } = await exchange(server, { hash: "sha256", password: "wrong" });
      await assert.rejects(final, failsWith("not-authorized"));
      await assert.rejects(server.step(Buffer.from("c=biws")), failsWith("malformed-request"));
    });

    it("a concurrent step while the first is pending → malformed-request", async () => {
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const server = new ScramServer({
        hash: "sha256",
        plus: false,
        channelBindings: new Map(),
        bindingOffered: false,
        lookup: async () => {
          await gate;
          return sha256Random;
        },
      });
      const first = server.step(Buffer.from("n,,n=user,r=abc"));
      await assert.rejects(
        server.step(Buffer.from("n,,n=user,r=abc")),
        failsWith("malformed-request"),
      );
      release();
      assert.equal((await first).kind, "challenge");
    });

    it("error texts never contain the username, nonce or proof", async () => {
      const { server } = makeServer({ "secret-user": sha256Random });
      const { final } = await exchange(server, {
        hash: "sha256",
        password: "wrong-password",
        user: "secret-user",
        clientNonce: "secret-nonce",
      });
      await assert.rejects(final, (err: unknown) => {
        assert.ok(err instanceof SaslFailure);
        assert.ok(!/secret|wrong-password/.test(`${err.message} ${err.text ?? ""}`));
        return true;
      });
    });
  });

  describe("channel binding (RFC 5802 §6, RFC 9266)", () => {
    const exporter = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
    const endPoint = Buffer.from("9552680729de5988ec93823c309d8b7fc382860d09655a491fa0a7c5", "hex");
    const unique = Buffer.from("b4ba6b440d12804ed2734d03", "hex");
    const bindings = new Map([
      ["tls-exporter", exporter],
      ["tls-server-end-point", endPoint],
      ["tls-unique", unique],
    ]);
    const plusOpts: Partial<ScramServerOptions> = {
      plus: true,
      bindingOffered: true,
      channelBindings: bindings,
    };

    for (const [type, data] of bindings) {
      it(`RFC 5802 §6: SCRAM-SHA-256-PLUS binds to ${type} when the connection has it`, async () => {
        const { server } = makeServer({ user: sha256Random }, plusOpts);
        const { final, expected } = await exchange(server, {
          hash: "sha256",
          password: "pencil",
          gs2Header: `p=${type},,`,
          cbindData: data,
        });
        assert.equal(successData(await final), expected);
      });
    }

    it("RFC 5802 §6: data of another type than the one named → channel-bindings-dont-match", async () => {
      const { server } = makeServer({ user: sha256Random }, plusOpts);
      const { final } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        gs2Header: "p=tls-unique,,",
        cbindData: exporter,
      });
      await assert.rejects(final, (err) => {
        failsWith("not-authorized")(err);
        assert.match((err as SaslFailure).text ?? "", /^channel-bindings-dont-match/);
        return true;
      });
    });

    it("RFC 9266: SCRAM-SHA-256-PLUS with the right tls-exporter data succeeds", async () => {
      const { server } = makeServer({ user: sha256Random }, plusOpts);
      assert.equal(server.name, "SCRAM-SHA-256-PLUS");
      const { final, expected } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        gs2Header: "p=tls-exporter,,",
        cbindData: exporter,
      });
      assert.equal(successData(await final), expected);
    });

    it("RFC 9266: SCRAM-SHA-1-PLUS with an authzid binds the whole gs2 header", async () => {
      const creds = deriveCredentialsSync("pencil", "sha1");
      const { server } = makeServer({ user: creds }, { ...plusOpts, hash: "sha1" });
      const { final, expected } = await exchange(server, {
        hash: "sha1",
        password: "pencil",
        gs2Header: "p=tls-exporter,a=user@example.com,",
        cbindData: exporter,
      });
      const step = await final;
      assert.equal(successData(step), expected);
      assert.equal(step.kind === "success" && step.authzid, "user@example.com");
    });

    it("RFC 5802 §6: wrong channel binding data → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random }, plusOpts);
      const wrong = Buffer.from(exporter);
      wrong[0] ^= 0xff;
      const { final } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        gs2Header: "p=tls-exporter,,",
        cbindData: wrong,
      });
      await assert.rejects(final, failsWith("not-authorized"));
    });

    it("RFC 5802 §6: c= with a different gs2 header than client-first → not-authorized", async () => {
      const { server } = makeServer({ user: sha256Random });
      const bare = "n=user,r=abc";
      const first = await server.step(Buffer.from(`n,,${bare}`));
      assert.equal(first.kind, "challenge");
      const cf = clientFinal({
        hash: "sha256",
        password: "pencil",
        clientFirstBare: bare,
        serverFirst: first.data.toString(),
        gs2Header: "y,,",
      });
      await assert.rejects(server.step(Buffer.from(cf.message)), failsWith("not-authorized"));
    });

    it("RFC 5802 §6: -PLUS mechanism without p= → malformed-request", async () => {
      for (const flag of ["n,,", "y,,"]) {
        const { server } = makeServer({ user: sha256Random }, plusOpts);
        await assert.rejects(
          server.step(Buffer.from(`${flag}n=user,r=abc`)),
          failsWith("malformed-request"),
        );
      }
    });

    it("RFC 5802 §6: p= on a non-PLUS mechanism → malformed-request", async () => {
      const { server } = makeServer(
        { user: sha256Random },
        { ...plusOpts, plus: false, bindingOffered: true },
      );
      await assert.rejects(
        server.step(Buffer.from("p=tls-exporter,,n=user,r=abc")),
        failsWith("malformed-request"),
      );
    });

    it("RFC 5802 §7: unsupported channel binding type → not-authorized naming the supported ones", async () => {
      const { server, lookups } = makeServer(
        { user: sha256Random },
        { ...plusOpts, channelBindings: new Map([["tls-exporter", exporter]]) },
      );
      await assert.rejects(server.step(Buffer.from("p=tls-unique,,n=user,r=abc")), (err) => {
        failsWith("not-authorized")(err);
        assert.ok(err instanceof ChannelBindingFailure);
        assert.equal(
          (err as SaslFailure).text,
          "unsupported-channel-binding-type: this connection supports tls-exporter",
        );
        return true;
      });
      assert.deepEqual(lookups, []);
    });

    it("RFC 5802 §7: -PLUS on a connection without binding data → unsupported-channel-binding-type", async () => {
      const { server } = makeServer(
        { user: sha256Random },
        { ...plusOpts, channelBindings: new Map() },
      );
      await assert.rejects(server.step(Buffer.from("p=tls-exporter,,n=user,r=abc")), (err) => {
        failsWith("not-authorized")(err);
        assert.match((err as SaslFailure).text ?? "", /^unsupported-channel-binding-type: /);
        return true;
      });
    });

    it("RFC 5802 §6: y flag when the server offered -PLUS → not-authorized (downgrade)", async () => {
      const { server, lookups } = makeServer(
        { user: sha256Random },
        { bindingOffered: true, channelBindings: bindings },
      );
      await assert.rejects(server.step(Buffer.from("y,,n=user,r=abc")), (err) => {
        failsWith("not-authorized")(err);
        assert.match((err as SaslFailure).text ?? "", /^server-does-support-channel-binding: /);
        return true;
      });
      assert.deepEqual(lookups, []);
    });

    it("RFC 5802 §6: y flag when the server offered no -PLUS succeeds", async () => {
      const { server } = makeServer({ user: sha256Random }, { bindingOffered: false });
      const { final, expected } = await exchange(server, {
        hash: "sha256",
        password: "pencil",
        gs2Header: "y,,",
      });
      assert.equal(successData(await final), expected);
    });
  });

  describe("passwords as clients really prepare them (RFC 8265 OpaqueString, RFC 4013 SASLprep, none)", () => {
    async function withAlternates(password: string): Promise<ScramCredentials> {
      const creds = await deriveCredentials(password, "sha256");
      creds.alternates = await Promise.all(
        passwordVariants(password).map((v) =>
          deriveKeys(v, "sha256", creds.salt, creds.iterations),
        ),
      );
      return creds;
    }

    it("has no variant for a password every preparation leaves alone", () => {
      assert.deepEqual(passwordVariants("correct horse battery staple"), []);
      assert.deepEqual(passwordVariants("pâté"), []);
    });

    it("keeps the SASLprep (NFKC) form and the unprepared form where they differ", () => {
      assert.deepEqual(passwordVariants("\uFB01sh"), ["fish"]); // the ligature, NFKC'd
      assert.deepEqual(passwordVariants("cafe\u0301"), ["cafe\u0301"]); // as typed
      assert.deepEqual(passwordVariants("a\u00A0b"), ["a\u00A0b"]); // no-break space as typed
    });

    for (const [client, typed, sent] of [
      ["an unpreparing client (nbxmpp)", "cafe\u0301", "cafe\u0301"],
      ["a SASLprep client (slixmpp)", "\uFB01sh", "fish"],
    ] as const) {
      it(`logs in ${client}, and proves the server with the matching key`, async () => {
        const { server } = makeServer({ user: await withAlternates(typed) });
        const { final, expected } = await exchange(server, { hash: "sha256", password: sent });
        assert.equal(successData(await final), expected);
        const { server: again } = makeServer({ user: await withAlternates(typed) });
        const wrong = await exchange(again, { hash: "sha256", password: `${sent}!` });
        await assert.rejects(wrong.final, failsWith("not-authorized"));
      });
    }

    it("PLAIN accepts a password sent in the client's own preparation", async () => {
      const creds = await withAlternates("\uFB01sh");
      assert.equal(await verifyPassword("fish", creds), true);
      assert.equal(await verifyPassword("\uFB01sh", creds), true);
      assert.equal(await verifyPassword("fist", creds), false);
    });
  });
});
