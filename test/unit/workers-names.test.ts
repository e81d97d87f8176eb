/**
 * `parley --workers`: the workers' names and sockets (src/workers/names.ts), when a dead worker
 * is started again (restart-policy.ts), and the command line's flags (cli-options.ts).
 */
import { strict as assert } from "node:assert";
import { availableParallelism } from "node:os";
import { takeWorkerFlags } from "../../src/workers/cli-options.js";
import { workerControlSocket, workerNodeName } from "../../src/workers/names.js";
import { RestartPolicy } from "../../src/workers/restart-policy.js";

describe("parley --workers: names, restarts and flags (issue 17)", () => {
  it("names a worker <base>.<slot>.<generation>, a valid node name or an error saying why", () => {
    assert.equal(workerNodeName("xmpp-1", 3, 12), "xmpp-1.3.12");
    assert.throws(
      () => workerNodeName("n".repeat(60), 10, 0),
      /worker 10 would be named n+\.10\.0, which cannot name a node: it has 65 characters, more than 64; set a shorter node_name/,
    );
  });

  it("gives a worker <control_socket>.<slot>.<generation>, up to a unix socket's 107 bytes", () => {
    const dir = `/${"d".repeat(97)}`; // with ".sock.0.0": 107 bytes
    assert.equal(workerControlSocket(`${dir}.sock`, 0, 0), `${dir}.sock.0.0`);
    assert.throws(
      () => workerControlSocket(`${dir}.sock`, 0, 10),
      /108 bytes long; a unix socket path may have at most 107: set a shorter control_socket/,
    );
  });

  it("starts a dead worker again at once, then waits twice as long each time, and gives up at the 5th death in a minute", () => {
    const p = new RestartPolicy(1000);
    const t0 = 1_000_000;
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => p.died(t0 + i * 1000)),
      [0, 1000, 2000, 4000, null],
    );
  });

  it("forgets deaths older than a minute, and all of them after a restart by hand", () => {
    const p = new RestartPolicy(1000);
    p.died(0);
    p.died(1000);
    assert.equal(p.died(60_500), 1000, "the death at 0 is out of the window, the one at 1000 not");
    assert.equal(p.recent(60_500), 2);
    p.reset();
    assert.equal(p.died(62_000), 0);
  });

  it("reads --workers auto|N and --node-name NAME, in both spellings, leaving the rest", () => {
    assert.deepEqual(takeWorkerFlags(["--workers", "3", "--node-name", "a", "-x"]), {
      workers: 3,
      nodeName: "a",
      rest: ["-x"],
    });
    assert.deepEqual(takeWorkerFlags(["--workers=auto", "--node-name=b"]), {
      workers: availableParallelism(),
      nodeName: "b",
      rest: [],
    });
    assert.deepEqual(takeWorkerFlags([]), { workers: null, nodeName: null, rest: [] });
    assert.throws(() => takeWorkerFlags(["--workers"]), /--workers needs a value/);
    assert.throws(() => takeWorkerFlags(["--node-name="]), /--node-name needs a value/);
    for (const bad of ["0", "-1", "two", "1.5", "1025"]) {
      assert.throws(
        () => takeWorkerFlags(["--workers", bad]),
        new RegExp(`--workers takes auto or a number of workers from 1 to 1024, not ${bad}`),
      );
    }
  });
});
