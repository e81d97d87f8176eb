/**
 * Mocha root hooks (.mocharc `require`): on a PARLEY_TEST_STORAGE=pgsql run, every test server
 * the test kit starts gets a fresh PostgreSQL database instead of a SQLite file.
 */
import { setDefaultTestStorage } from "../../src/testkit/index.js";
import { freshPgsql, storageMode } from "./storage.js";

export const mochaHooks = {
  beforeAll(): void {
    if (storageMode() === "pgsql") setDefaultTestStorage(() => freshPgsql());
  },
};
