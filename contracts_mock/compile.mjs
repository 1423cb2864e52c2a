// Compile contracts_mock/*.sol with solc-js (the pinned npm package) through standard JSON.
// Writes abis/<Name>.json (ABI) and contracts_mock/build/<Name>.bin (creation bytecode, hex).
// Usage: node contracts_mock/compile.mjs [--check]   (--check: compare with the committed files, write nothing)
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const check = process.argv.includes("--check");
const sources = {};
for (const f of readdirSync(here).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: readFileSync(join(here, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "prague",
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
mkdirSync(join(here, "build"), { recursive: true });
mkdirSync(join(root, "abis"), { recursive: true });
let stale = 0;
for (const file of Object.keys(out.contracts).sort()) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    const files = [
      [join(root, "abis", `${name}.json`), JSON.stringify(c.abi, null, 2) + "\n"],
      [join(here, "build", `${name}.bin`), c.evm.bytecode.object + "\n"],
    ];
    for (const [path, text] of files) {
      if (check) {
        let old = "";
        try { old = readFileSync(path, "utf8"); } catch { old = ""; }
        if (old !== text) { console.error(`stale: ${path}`); stale++; }
      } else {
        writeFileSync(path, text);
      }
    }
  }
}
console.log(`solc ${solc.version()}: ${Object.keys(sources).length} sources, ${check ? (stale ? stale + " stale" : "artifacts up to date") : "written"}`);
process.exit(stale ? 1 : 0);
