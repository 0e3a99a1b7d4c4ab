// Runs Python code under the MicroPython WebAssembly runtime from npm, in Node,
// with the given repository folders copied into its in-memory filesystem.
// Usage: node tests/micropython_run.mjs <script.py> [folder ...]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const root = resolve(import.meta.dirname, "..");
const [script, ...folders] = process.argv.slice(2);

function copyTree(FS, dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const target = "/" + relative(root, path);
    if (statSync(path).isDirectory()) {
      if (name === "__pycache__") continue;
      FS.mkdirTree(target);
      copyTree(FS, path);
    } else if (name.endsWith(".py")) {
      FS.writeFile(target, readFileSync(path));
    }
  }
}

const mp = await loadMicroPython({
  heapsize: 16 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const folder of folders) {
  mp.FS.mkdirTree("/" + folder);
  copyTree(mp.FS, join(root, folder));
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/')\n" + readFileSync(script, "utf8"));
} catch (error) {
  console.error(error.message ?? error);
  process.exit(1);
}
