// Fails the build when the minified bundle, gzipped, is above the 8 KB budget (issue 3).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 8 * 1024;
const code = readFileSync(new URL("../dist/trackflow.min.js", import.meta.url));
const gzipped = gzipSync(code, { level: 9 }).length;
console.log(`trackflow.min.js: ${code.length} bytes, ${gzipped} bytes gzipped (budget ${BUDGET})`);
if (gzipped > BUDGET) {
  console.error("over the gzipped size budget");
  process.exit(1);
}
