#!/usr/bin/env node
// Entry point: registers tsx so the TypeScript sources run without a build step.
"use strict";
require("tsx/cjs/api").register();
require("../src/cli.ts").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => {
    console.error(`minicifar-lab: ${err && err.message ? err.message : err}`);
    if (process.env.LAB_DEBUG) console.error(err);
    process.exitCode = 1;
  },
);
