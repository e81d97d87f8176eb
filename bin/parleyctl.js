#!/usr/bin/env node
import "../dist/src/cli/parleyctl.js";
