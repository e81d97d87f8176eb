// Federation between Parley and Prosody (issue 16): see test/federation/scenarios.ts.
import { federationSuite } from "./federation.js";

federationSuite("parley-prosody");
