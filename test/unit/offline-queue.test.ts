import { strict as assert } from "node:assert";
import { OfflineQueue, type AddResult } from "../../modules/mod_offline/queue.js";
import type { NewOfflineMessage, OfflineStore } from "../../src/storage/stores.js";

/** An offline store whose commits finish only when the test says so. */
function slowStore() {
  const batches: { batch: NewOfflineMessage[]; commit: () => void }[] = [];
  const store: OfflineStore = {
    add: (batch) =>
      new Promise((resolve) => {
        batches.push({
          batch: [...batch],
          commit: () => resolve(batch.map(() => "stored" as const)),
        });
      }),
    first: async () => [],
    remove: async () => undefined,
    count: async () => 0,
    deleteOlderThan: async () => 0,
    removeUser: async () => undefined,
  };
  return { store, batches };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("mod_offline's group commit (XEP-0160; design: nothing lost, in order)", () => {
  it("commits one batch at a time, so a later message never commits before an earlier one", async () => {
    const { store, batches } = slowStore();
    const q = new OfflineQueue(store, () => undefined);
    const results: string[] = [];
    const add = (body: string): void =>
      q.add("localhost", "bob", 1, `<message><body>${body}</body></message>`, 10, (r: AddResult) =>
        results.push(`${body}:${String(r)}`),
      );
    add("1");
    await turn();
    assert.equal(batches.length, 1, "the first batch is being committed");
    add("2");
    add("3");
    await turn();
    assert.equal(batches.length, 1, "the next batch waits for the commit in flight");
    batches[0]!.commit();
    await turn();
    await turn();
    assert.equal(batches.length, 2);
    assert.deepEqual(
      batches[1]!.batch.map((m) => m.stanza.match(/<body>(\d)/)![1]),
      ["2", "3"],
      "what arrived meanwhile is one batch",
    );
    batches[1]!.commit();
    await q.flush();
    assert.deepEqual(results, ["1:stored", "2:stored", "3:stored"]);
  });
});
