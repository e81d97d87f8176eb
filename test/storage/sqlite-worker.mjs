// Starts sqlite-worker.ts in a worker thread: tsx loads the TypeScript, as it loads the tests.
import { tsImport } from "tsx/esm/api";

await tsImport("./sqlite-worker.ts", import.meta.url);
