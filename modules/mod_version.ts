// mod_version: XEP-0092 Software Version for the server: name "Parley", the version from
// package.json, and the operating system only when the administrator allows it (§5).
import { existsSync, readFileSync } from "node:fs";
import { release, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineModule, opt, xml } from "../src/moduleapi.js";

const NS_VERSION = "jabber:iq:version";

export default defineModule({
  name: "mod_version",
  description: "XEP-0092: answers software version queries to the server",
  options: {
    show_os: opt.boolean(false, "Include the operating system in the answer (XEP-0092 §5)"),
  },
  start(ctx) {
    const version = packageVersion();
    const os = `${type()} ${release()}`;
    ctx.feature(NS_VERSION); // XEP-0092 §4
    // XEP-0092 §2: name and version are required in a result, os is optional.
    ctx.iq("get", NS_VERSION, "query", () =>
      xml(
        "query",
        { xmlns: NS_VERSION },
        xml("name", {}, "Parley"),
        xml("version", {}, version),
        ctx.options.show_os ? xml("os", {}, os) : null,
      ),
    );
  },
});

/** The version in the nearest package.json above this file (modules/ or dist/modules/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown };
      if (typeof pkg.version === "string") return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}
