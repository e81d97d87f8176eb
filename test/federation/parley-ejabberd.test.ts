// Federation between Parley and ejabberd (issue 16): see test/federation/scenarios.ts.
import { federationSuite } from "./federation.js";

federationSuite("parley-ejabberd");
