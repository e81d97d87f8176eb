// Federation between Prosody and ejabberd, no Parley: proves the harness (test/federation/) and
// its checks on two servers whose federation is known to work. See test/federation/scenarios.ts.
import { federationSuite } from "./federation.js";

federationSuite("prosody-ejabberd");
