/**
 * The everyday scenarios every outside client library must get through against Parley, with the
 * modules of the shipped config: log in with the mechanism the library picks, roster, presence,
 * chat, carbons, offline messages, blocking, vCard, server queries, group chat, and stream
 * management across a cut link. Each library's test file (interop-slixmpp.test.ts,
 * interop-nbxmpp.test.ts) runs them against its Python client in test/interop/ and adds what
 * only that library does.
 */
import { assertPythonModule, PYTHON } from "../helpers/python-client.js";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import { Launcher, type InteropLibrary } from "../helpers/interop-launcher.js";
import { imScenarios } from "./interop-scenarios-im.js";
import { loginScenarios } from "./interop-scenarios-login.js";
import { mucScenarios } from "./interop-scenarios-muc.js";
import { streamScenarios } from "./interop-scenarios-sm.js";

export function interopScenarios(lib: InteropLibrary): {
  server: () => InteropServer;
  launcher: Launcher;
} {
  let t: InteropServer;
  const server = () => t;
  const launcher = new Launcher(lib, server);
  const u = (tag: string) => `${lib.name}-${tag}`;

  before(async () => {
    t = await startInteropServer();
  });
  afterEach(async () => launcher.cleanup());
  after(async () => t?.stop());

  it(`${lib.name} is installed for ${PYTHON} (apt-get install ${lib.debianPackage})`, () => {
    assertPythonModule(lib.module, lib.debianPackage);
  });

  const ctx = { lib, server, launcher, u };
  loginScenarios(ctx);
  imScenarios(ctx);
  mucScenarios(ctx);
  streamScenarios(ctx);

  return { server, launcher };
}
