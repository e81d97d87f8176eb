// The project's own tests use the same kit as plugin authors.
export { startTestServer, type TestServer } from "../../src/testkit/index.js";
