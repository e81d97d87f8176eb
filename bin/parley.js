#!/usr/bin/env node
// Runs the compiled server (npm install / npm ci build it through the `prepare` script).
import "../dist/src/cli/parley.js";
