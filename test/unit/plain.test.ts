import { strict as assert } from "node:assert";
import { PlainServer } from "../../src/auth/plain.js";
import { SaslFailure, type SaslFailureCondition } from "../../src/auth/sasl.js";
import { deriveCredentialsSync, verifyPassword } from "../../src/auth/scram.js";

function failsWith(condition: SaslFailureCondition) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SaslFailure, `expected SaslFailure, got ${String(err)}`);
    assert.equal(err.condition, condition);
    return true;
  };
}

describe("SASL PLAIN (RFC 4616)", () => {
  const creds = deriveCredentialsSync("pencil", "sha256");
  const calls: [string, string, string][] = [];

  function makeServer(): PlainServer {
    calls.length = 0;
    return new PlainServer({
      verify: async (username, password, authzid) => {
        calls.push([username, password, authzid]);
        return username === "user" && (await verifyPassword(password, creds));
      },
    });
  }

  it("RFC 4616 §2: good credentials without authzid succeed", async () => {
    const server = makeServer();
    assert.equal(server.name, "PLAIN");
    const step = await server.step(Buffer.from("\0user\0pencil"));
    assert.deepEqual(step, { kind: "success", data: null, username: "user" });
    assert.deepEqual(calls, [["user", "pencil", ""]]);
  });

  it("RFC 4616 §2: authzid is passed to verify and returned", async () => {
    const server = makeServer();
    const step = await server.step(Buffer.from("user@example.com\0user\0pencil"));
    assert.deepEqual(step, {
      kind: "success",
      data: null,
      username: "user",
      authzid: "user@example.com",
    });
    assert.deepEqual(calls, [["user", "pencil", "user@example.com"]]);
  });

  it("RFC 4616 §2: non-ASCII UTF-8 is accepted", async () => {
    const server = new PlainServer({ verify: async (u, p) => u === "jürgen" && p === "pässwörd" });
    const step = await server.step(Buffer.from("\0jürgen\0pässwörd", "utf8"));
    assert.equal(step.kind === "success" && step.username, "jürgen");
  });

  it("RFC 4616 §2: wrong password → not-authorized", async () => {
    await assert.rejects(
      makeServer().step(Buffer.from("\0user\0Pencil")),
      failsWith("not-authorized"),
    );
  });

  it("RFC 4616 §2: unknown user → not-authorized", async () => {
    await assert.rejects(
      makeServer().step(Buffer.from("\0nobody\0pencil")),
      failsWith("not-authorized"),
    );
  });

  const malformed: [string, Buffer][] = [
    ["no NUL", Buffer.from("userpencil")],
    ["one NUL", Buffer.from("user\0pencil")],
    ["three NULs", Buffer.from("\0user\0pen\0cil")],
    ["empty authcid", Buffer.from("\0\0pencil")],
    ["empty password", Buffer.from("\0user\0")],
    ["invalid UTF-8", Buffer.from([0x00, 0x75, 0xff, 0x00, 0x70])],
  ];
  for (const [what, msg] of malformed) {
    it(`RFC 4616 §2: ${what} → malformed-request`, async () => {
      const server = makeServer();
      await assert.rejects(server.step(msg), failsWith("malformed-request"));
      assert.deepEqual(calls, []);
    });
  }

  it("RFC 6120 §6.4.2: an empty initial response gets one empty challenge", async () => {
    const server = makeServer();
    const challenge = await server.step(Buffer.alloc(0));
    assert.deepEqual(challenge, { kind: "challenge", data: Buffer.alloc(0) });
    const step = await server.step(Buffer.from("\0user\0pencil"));
    assert.equal(step.kind, "success");

    const again = makeServer();
    await again.step(Buffer.alloc(0));
    await assert.rejects(again.step(Buffer.alloc(0)), failsWith("malformed-request"));
  });

  it("a step after completion → malformed-request", async () => {
    const server = makeServer();
    await server.step(Buffer.from("\0user\0pencil"));
    await assert.rejects(
      server.step(Buffer.from("\0user\0pencil")),
      failsWith("malformed-request"),
    );

    const failed = makeServer();
    await assert.rejects(failed.step(Buffer.from("\0user\0bad")), failsWith("not-authorized"));
    await assert.rejects(
      failed.step(Buffer.from("\0user\0pencil")),
      failsWith("malformed-request"),
    );
  });

  it("a throwing verify → temporary-auth-failure; a SaslFailure from verify passes through", async () => {
    const broken = new PlainServer({
      verify: async () => {
        throw new Error("database is down");
      },
    });
    await assert.rejects(
      broken.step(Buffer.from("\0user\0pencil")),
      failsWith("temporary-auth-failure"),
    );
    const disabled = new PlainServer({
      verify: async () => {
        throw new SaslFailure("account-disabled");
      },
    });
    await assert.rejects(
      disabled.step(Buffer.from("\0user\0pencil")),
      failsWith("account-disabled"),
    );
  });

  it("error texts never contain the password", async () => {
    await assert.rejects(makeServer().step(Buffer.from("\0user\0hunter2")), (err: unknown) => {
      assert.ok(err instanceof SaslFailure);
      assert.ok(!err.message.includes("hunter2"));
      assert.ok(!(err.text ?? "").includes("hunter2"));
      return true;
    });
  });
});
