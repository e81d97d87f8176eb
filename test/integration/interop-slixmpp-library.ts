import type { InteropLibrary } from "../helpers/interop-launcher.js";

// slixmpp (python3-slixmpp) takes a -PLUS mechanism whenever the server offers one, and binds it
// to the TLS channel with tls-unique (RFC 5929 §3), the only binding it implements.
export const SLIXMPP: InteropLibrary = {
  name: "slixmpp",
  script: "slix_client.py",
  module: "slixmpp",
  debianPackage: "python3-slixmpp",
  mechanism: /^SCRAM-SHA-(1|256)-PLUS$/,
};
