export { connect, xml, type TestClient, type ConnectOptions } from "../../src/testkit/index.js";
