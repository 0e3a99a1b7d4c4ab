// Runs every test_* function of the unit tests compiled to JavaScript (tests/compiled_unit.py
// writes the modules and this file's import list), printing one block per failure and a
// closing `compiled: N passed, N failed` line; exits 1 on failure.
import './pycompat.js';
/*IMPORTS*/

function argText (a) {
  try { return String (a); } catch (x) { return typeof a; }
}

function describe (e) {
  let text;
  if (e instanceof Error) text = e.name + ': ' + e.message;
  else if (e && e.__class__) {
    text = e.__class__.__name__ + ': ' + (e.__args__ ? Array.from (e.__args__).map (argText).join (', ') : '');
  }
  else text = String (e);
  const depth = process.env.TRACE ? 12 : 3;
  const stack = e && e.stack ? String (e.stack).split ('\n').filter (l => l.includes (' at ')).slice (0, depth) : [];
  return text + (stack.length ? '\n    ' + stack.map (l => l.trim ()).join ('\n    ') : '');
}

let passed = 0, failed = 0;
for (const [file, module] of Object.entries (MODULES)) {
  for (const name of Object.keys (module).sort ()) {
    if (!name.startsWith ('test_') || typeof module [name] !== 'function') continue;
    try {
      module [name] ();
      passed++;
    } catch (e) {
      failed++;
      console.log ('FAILED ' + file + '::' + name + ': ' + describe (e));
    }
  }
}
console.log ('compiled: ' + passed + ' passed, ' + failed + ' failed');
process.exit (failed || !passed ? 1 : 0);
