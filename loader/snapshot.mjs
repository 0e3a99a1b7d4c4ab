/* Build-time only (build.py runs it in node): a Pyodide memory snapshot with the interpreter
   started and the whole tracker package imported, which the loader hands to
   loadPyodide({_loadSnapshot}) so a page skips Python's start-up (~200 stdlib modules imported
   by Pyodide's bootstrap) and the tracker's imports.

   node snapshot.mjs <pyodide dir> <tracker-py.zip> <module,module,...> <output file>

   The snapshot is the interpreter's whole linear memory, so everything the start-up reads
   from the machine is made constant while it is taken, for byte-identical builds: the
   entropy Emscripten draws (Python's hash secret, random's seed; both public in a file
   every visitor downloads, so the loader reseeds `random` after restoring), the clocks
   (file times in the in-memory file system) and the program name. */
import crypto from 'node:crypto';
import fs from 'node:fs';

const [pyodideDir, bundle, modules, output] = process.argv.slice(2);

let state = 0x2545f491;  /* xorshift32: the same "entropy" on every build */
crypto.randomFillSync = function (view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let i = 0; i < bytes.length; i++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return view;
};
const EPOCH = Date.UTC(2000, 0, 1);
let tick = 0;
Date.now = () => EPOCH;
performance.now = () => (tick += 1);

/* Entries of the uncompressed zip build.py writes (the loader's unzip, in node). */
function unzip(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = [];
  for (let at = 0; at + 30 <= bytes.length && view.getUint32(at, true) === 0x04034b50;) {
    const size = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true);
    const dataStart = at + 30 + nameLength + view.getUint16(at + 28, true);
    entries.push({ name: new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLength)),
                   data: bytes.subarray(dataStart, dataStart + size) });
    at = dataStart + size;
  }
  return entries;
}

const { loadPyodide } = await import(pyodideDir + '/pyodide.mjs');
const lock = JSON.parse(fs.readFileSync(pyodideDir + '/pyodide-lock.json', 'utf8'));
const pyodide = await loadPyodide({
  indexURL: pyodideDir + '/',
  lockFileContents: { info: lock.info, packages: {} },
  packageBaseUrl: pyodideDir + '/',
  _makeSnapshot: true,
  _sysExecutable: './this.program',  /* the browser's name, not this script's path */
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  fsInit: async (FS, info) => {
    for (const entry of unzip(new Uint8Array(fs.readFileSync(bundle)))) {
      const path = info.sitePackages + '/' + entry.name;
      const parts = path.split('/');
      for (let i = 2; i < parts.length; i++) {
        try { FS.mkdir(parts.slice(0, i).join('/')); } catch (e) { /* exists already */ }
      }
      FS.writeFile(path, entry.data);
    }
  },
});
pyodide.runPython([
  'import gc, importlib, random',
  'random.seed(0)',
  'for name in ' + JSON.stringify(modules.split(',')) + ':',
  '    importlib.import_module(name)',
  'gc.collect()',
  'del gc, importlib, random, name',
].join('\n'));
/* The stdlib files the snapshot has imported: build.py leaves them out of the stdlib zip the
   loader passes (tracker-pyodide-stdlib.zip). Python's zip importers are dropped, so a restored interpreter reads that
   smaller zip's directory afresh for any module it imports later. */
const used = pyodide.runPython([
  'import json, sys, zipimport',
  'prefix = sys.path[0] if sys.path[0].endswith(".zip") else [p for p in sys.path if p.endswith(".zip")][0]',
  'used = sorted(m.__spec__.origin[len(prefix) + 1:] for m in list(sys.modules.values())',
  '              if getattr(m, "__spec__", None) and (m.__spec__.origin or "").startswith(prefix + "/"))',
  'zipimport._zip_directory_cache.clear()',
  'sys.path_importer_cache.clear()',
  'result = json.dumps(used)',
  'del json, zipimport, prefix, used',
  'result',
].join('\n'));
pyodide.runPython('del result');
fs.writeFileSync(output + '.stdlib.json', used);
fs.writeFileSync(output, pyodide.makeMemorySnapshot());
