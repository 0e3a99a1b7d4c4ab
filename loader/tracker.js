/* tracker loader: starts the tracker compiled to JavaScript (the default), or loads a
   Python runtime and the tracker from the directory this script came from
   (data-runtime="micropython" or "pyodide"), then replays the page's queued calls.
   See docs/architecture.md (the bridge). */
(function () {
  'use strict';

  /* tracker/ compiled ahead of time by Transcrypt, bundled by esbuild (build.py): sets
     COMPILED to tracker/browser.py's bridge (start, call, use_helpers). Evaluated only on
     the compiled runtime, inside the loader's error handling (it extends builtins'
     prototypes, which a page may have frozen). */
  function compiledTracker() {
    /*COMPILED_TRACKER*/
    return COMPILED;
  }

  var METHODS = /*METHODS*/[];
  var PYODIDE_LOCK = /*PYODIDE_LOCK*/null;
  /* plain name -> content-hashed name under dist/ (build.py); a directory name ends in / */
  var FILES = /*FILES*/{};
  var slice = Array.prototype.slice;
  /* Methods whose direct form returns a Promise: the position of the callback Python calls
     with the result (the Promise's value; null after a warning when the call failed). */
  var PROMISED = { flush: 0, startAnonymousSession: 1, getAccessToken: 0,
                   updateSessionMetadata: 1, transferAnonymousSession: 1 };

  function settled(method) { return method === 'flush' ? undefined : null; }

  function describe(error) {
    return (error && (error.message || error.name)) ? String(error.message || error.name) : String(error);
  }

  function warn(message) {
    try { console.warn('[tracker] ' + message); } catch (e) { /* no console: nothing to do */ }
  }

  function currentScript() {
    if (document.currentScript) return document.currentScript;
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/(^|\/)tracker\.js([?#]|$)/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }

  function start() {
    mark('start');
    var script = currentScript();
    var base = new URL('.', (script && script.src) || location.href).href;
    var violations = [];  /* Content-Security-Policy reports seen while loading */
    function onViolation(event) {
      if (event.disposition === 'report') return;  /* Report-Only policies block nothing */
      violations.push(event);
      /* a runtime whose wasm compile or file fetch is refused may never settle (Pyodide) */
      var blocked = String(event.blockedURI || '');
      if (blocked === 'wasm-eval' || blocked.indexOf(base) === 0) {
        fail(new Error('blocked by the Content-Security-Policy: ' + blocked));
      }
    }
    var name = (script && script.getAttribute('data-global')) || 'tracker';
    var runtime = (script && script.getAttribute('data-runtime')) || 'compiled';
    var stub = window[name];
    if (stub && stub.ready) return;  /* the loader already ran for this global */
    try { document.addEventListener('securitypolicyviolation', onViolation); } catch (e) { /* old browser */ }

    var pending = stub && stub.q ? slice.call(stub.q) : [];
    var fns = {};        /* JS functions passed to Python, by id */
    var oneShot = {};    /* ids of the ones Python calls once (a Promise's resolve): freed then */
    var nextFn = 0;
    var py = null;       /* the Python module tracker.browser, once loaded */
    var state = 'loading';
    var resolveReady;
    var ready = new Promise(function (resolve) { resolveReady = resolve; });

    /* A JS function argument crosses as {"$fn": id}; the function stays in `fns` (until
       its one call when `once`: flush's and the session methods' resolve). */
    function encodeFunction(fn, once) {
      if (!once) {
        for (var kept in fns) if (fns[kept] === fn && !oneShot[kept]) return { $fn: +kept };
      }
      var id = nextFn++;
      fns[id] = fn;
      if (once) oneShot[id] = true;
      return { $fn: id };
    }

    function decode(key, value) {
      if (value && typeof value.$accessor === 'string') return accessor(value);
      return value;
    }

    function accessor(spec) {
      var object = {};
      (spec.methods || []).forEach(function (method) {
        object[method] = function () { return invoke(spec.$accessor + '.' + method, slice.call(arguments)); };
      });
      return object;
    }

    function invoke(method, args) {
      if (state !== 'ready') {
        /* not loaded: nothing to send, no session to get */
        var at = PROMISED.hasOwnProperty(method) ? PROMISED[method] : -1;
        if (at >= 0 && typeof args[at] === 'function') args[at](settled(method));
        return undefined;
      }
      if (typeof method !== 'string') {
        warn('unknown method ' + String(method));
        return undefined;
      }
      while (args.length && args[args.length - 1] === undefined) args.pop();
      var json = '[]';
      if (args.length) {
        var settles = PROMISED.hasOwnProperty(method) ? PROMISED[method] : -1;
        for (var i = 0; i < args.length; i++) {
          if (typeof args[i] === 'function') args[i] = encodeFunction(args[i], i === settles);
        }
        try {
          json = JSON.stringify(args);
        } catch (e) {
          warn('bad argument for ' + method + ': ' + describe(e));
          return undefined;
        }
      }
      try {
        var out = py.call(method, json);
        if (out === 'null') return undefined;
        return out.indexOf('"$') < 0 ? JSON.parse(out) : JSON.parse(out, decode);
      } catch (e) {
        warn(method + ' failed: ' + describe(e));
        return undefined;
      }
    }

    function whenReady(fn) {
      ready.then(function () {
        try { fn(); } catch (e) { warn('ready callback failed: ' + describe(e)); }
      });
    }

    function tracker(method) {
      try {
        if (typeof method === 'function') return whenReady(method);
        if (state === 'loading') {
          pending.push(slice.call(arguments));
          return undefined;
        }
        return invoke(method, slice.call(arguments, 1));
      } catch (e) {
        warn('call failed: ' + describe(e));
        return undefined;
      }
    }

    function direct(method) {
      return function () {
        try {
          if (state !== 'loading') return invoke(method, slice.call(arguments));
          pending.push([method].concat(slice.call(arguments)));
        } catch (e) {
          warn('call failed: ' + describe(e));
        }
        return undefined;
      };
    }

    for (var i = 0; i < METHODS.length; i++) {
      Object.defineProperty(tracker, METHODS[i], { value: direct(METHODS[i]), configurable: true, writable: true });
    }
    /* flush() returns a Promise, settled once the buffer is empty or the collector is
       unreachable (Python calls `resolve` back), or at once when the tracker cannot load;
       the anonymous-session methods likewise, with their result. */
    function promised(method, at) {
      return function () {
        var args = slice.call(arguments, 0, at);
        while (args.length < at) args.push(null);
        return new Promise(function (resolve) {
          try {
            if (state === 'loading') pending.push([method].concat(args, [resolve]));
            else invoke(method, args.concat([resolve]));
          } catch (e) {
            warn(method + ' failed: ' + describe(e));
            resolve(settled(method));
          }
        });
      };
    }
    Object.keys(PROMISED).forEach(function (method) {
      Object.defineProperty(tracker, method, {
        value: promised(method, PROMISED[method]),
        configurable: true,
        writable: true
      });
    });
    /* how many page functions the tracker holds (for tests: resolved Promises leave none) */
    Object.defineProperty(tracker, '_heldFunctions', {
      get: function () { return Object.keys(fns).length; }
    });
    tracker.ready = ready;
    tracker.loadError = null;
    tracker.q = pending;
    window[name] = tracker;

    /* What Python calls (registered as the JS module `_tracker_host`): the helpers of
       tracker/host_helpers.py (HELPERS_JS, put here by build.py), plus callbacks. */
    var host = (function () {/*HOST_HELPERS*/})();
    host.callback = function (id, argsJson) {
      var fn = fns[id];
      if (typeof fn !== 'function') return;
      if (oneShot[id]) {
        delete fns[id];
        delete oneShot[id];
      }
      try {
        fn.apply(null, JSON.parse(argsJson, decode));
      } catch (e) {
        warn('callback failed: ' + describe(e));
      }
    };

    function finish() {
      /* the first queued init runs first, as analytics.js runs its `load`: every call
         queued before it then sees the page's options; `tracker('init')` alone is
         init with the defaults. The queue stays whole until start succeeded. */
      var options = 'null';
      var initAt = -1;
      for (var i = 0; i < pending.length; i++) {
        if (pending[i][0] === 'init') {
          var given = pending[i][1];
          initAt = i;
          try {
            options = JSON.stringify(given == null ? {} : given);
          } catch (e) {
            warn('init: options cannot be read (' + describe(e) + '): using the defaults');
            options = '{}';
          }
          break;
        }
      }
      py.start(options);
      if (initAt >= 0) pending.splice(initAt, 1);
      var queue = pending;
      pending = [];
      tracker.q = pending;
      mark('started');
      state = 'ready';
      for (var j = 0; j < queue.length; j++) {
        if (typeof queue[j][0] === 'function') whenReady(queue[j][0]);
        else invoke(queue[j][0], slice.call(queue[j], 1));
      }
      settle();
    }

    /* One warning naming the file and the likely cause, `loadError` for the page, then
       `ready` resolves. Waits a moment: CSP reports and resource timings arrive late. */
    function fail(error) {
      if (state !== 'loading') return;
      state = 'failed';
      setTimeout(function () {
        var dropped = 0;
        for (var i = 0; i < pending.length; i++) {
          if (typeof pending[i][0] !== 'function' && pending[i][0] !== 'flush') dropped++;
        }
        var problem = loadProblem(error, base, violations);
        var message = 'could not load (' + runtime + '): ' + problem.message;
        if (dropped) message += ' ' + dropped + ' queued call' + (dropped > 1 ? 's were' : ' was') + ' dropped.';
        warn(message + ' See ' + name + '.loadError.');
        var loadError = new Error(problem.message);
        loadError.name = 'TrackerLoadError';
        loadError.reason = problem.reason;
        loadError.file = problem.file;
        loadError.runtime = runtime;
        loadError.cause = error;
        tracker.loadError = loadError;
        settle();
      }, 100);
    }

    function settle() {
      var rest = pending;
      pending = [];
      for (var i = 0; i < rest.length; i++) {
        if (typeof rest[i][0] === 'function') whenReady(rest[i][0]);
        else invoke(rest[i][0], slice.call(rest[i], 1));
      }
      /* a stub kept by the page still pushes to tracker.q: run those calls at once */
      tracker.q = {
        push: function () {
          for (var i = 0; i < arguments.length; i++) tracker.apply(null, slice.call(arguments[i]));
        }
      };
      try { document.removeEventListener('securitypolicyviolation', onViolation); } catch (e) { /* old browser */ }
      try { performance.mark('tracker:ready'); } catch (e) { /* marks are optional */ }
      resolveReady();
    }

    function preload(url, as) {
      var link = document.createElement('link');
      link.rel = as === 'script' ? 'modulepreload' : 'preload';
      if (as !== 'script') link.as = as;
      link.crossOrigin = 'anonymous';
      link.href = url;
      link.onerror = function () { fail(fetchError(url, 0)); };
      link.onload = function () {
        /* a preload "loads" on an HTTP error too; Pyodide then waits forever, so check */
        var status = responseStatus(url);
        if (status >= 400) fail(fetchError(url, status));
      };
      (document.head || document.documentElement).appendChild(link);
    }

    var loaders = { compiled: loadCompiled, micropython: loadMicroPython, pyodide: loadPyodide };
    if (!loaders.hasOwnProperty(runtime)) {
      var unknown = new Error('unknown data-runtime "' + runtime + '" (compiled, micropython or pyodide)');
      unknown.reason = 'config';
      return fail(unknown);
    }
    if (runtime === 'compiled') {
      /* nothing to fetch: ready before the next line of the page runs */
      var compiled;
      try {
        compiled = loadCompiled();
      } catch (e) {
        return fail(startError(e));
      }
      return begin(compiled);
    }
    loaders[runtime](base).then(function (module) {
      if (state === 'loading') begin(module);
    }).catch(function (e) {
      if (state === 'loading') fail(e);
    });

    /* Start the loaded tracker and replay the queue: a throw while starting is a failed
       load (reason 'start'), one while replaying a warning. */
    function begin(module) {
      py = module;
      try {
        finish();
      } catch (e) {
        if (state === 'loading') return fail(startError(e));
        warn('replaying queued calls failed: ' + describe(e));
        settle();
      }
    }

    /* The tracker compiled to JavaScript, in this script: it calls the same helpers the
       interpreters import as `_tracker_host`. */
    function loadCompiled() {
      mark('runtime');
      var compiled = hidingAdditions(compiledTracker);
      compiled.use_helpers(host);
      mark('imported');
      /* no cookie hint up front (-2, READ_ONCE in tracker/browser.py): reaching
         document.cookie from compiled code is a plain call, so only the methods that
         need the cookies read them, once per call */
      return bridge(compiled, null);
    }

    /* The tracker's compiled modules come as a ROMFS image, which the runtime mounts at
       /rom and imports from in place: nothing is unpacked or written to its file system. */
    function loadMicroPython(base) {
      var dir = base + file('micropython/');
      preload(dir + 'micropython.wasm', 'fetch');
      var romfs = fetchBytes(base + file('tracker-mpy.romfs'));
      romfs.catch(fail);
      return Promise.all([load(dir + 'micropython.mjs'), romfs]).then(function (loaded) {
        mark('mjs');
        return loaded[0].loadMicroPython({ url: dir + 'micropython.wasm', romfs: loaded[1],
                                           stdout: print, stderr: print })
          .catch(blame(dir + 'micropython.wasm'));
      }).then(function (mp) {
        mark('runtime');
        mp.registerJsModule('_tracker_host', host);
        var module = mp.pyimport('tracker.browser');
        mark('imported');
        return bridge(module, host.cookieVersion);
      });
    }

    /* The interpreter comes up from a memory snapshot build.py took with the tracker already
       imported (loader/snapshot.mjs): no Python start-up, no tracker files to unpack. */
    function loadPyodide(base) {
      var dir = base + file('pyodide/');
      preload(dir + 'pyodide.asm.wasm', 'fetch');
      var stdlib = base + file('tracker-pyodide-stdlib.zip');  /* less what the snapshot holds */
      preload(stdlib, 'fetch');
      preload(dir + 'pyodide.asm.mjs', 'script');
      var snapshot = fetchBytes(base + file('tracker-pyodide.snapshot'));
      snapshot.catch(fail);
      return load(dir + 'pyodide.mjs').then(function (m) {
        mark('mjs');
        return m.loadPyodide({
          indexURL: dir,
          lockFileContents: PYODIDE_LOCK,
          packageBaseUrl: dir,
          stdLibURL: stdlib,
          stdout: print,
          stderr: print,
          /* Pyodide keeps its options for the page's lifetime: hand the 31.5 MB over once
             (a thenable that forgets them), or they stay allocated beside the wasm memory */
          _loadSnapshot: { then: function (resolve, reject) {
            var bytes = snapshot;
            snapshot = null;
            return bytes.then(resolve, reject);
          } }
        });
      }).then(function (pyodide) {
        mark('runtime');
        /* the snapshot's `random` state is the same for every visitor: draw a fresh seed */
        var random = pyodide.pyimport('random');
        random.seed();
        random.destroy();
        pyodide.registerJsModule('_tracker_host', host);
        var module = pyodide.pyimport('tracker.browser');
        mark('imported');
        return bridge(module, host.cookieVersion);
      });
    }
  }

  /* The content-hashed name build.py gave a file or directory of dist/. */
  function file(name) {
    return FILES[name] || name;
  }

  /* import() a module; a failure names the module's URL. */
  function load(url) {
    return import(url).catch(blame(url));
  }

  /* A rejection handler that records which file failed, unless a deeper one already did. */
  function blame(url) {
    return function (error) {
      if (error && typeof error === 'object' && !error.file) {
        try { error.file = url; } catch (e) { /* frozen error: the diagnosis guesses */ }
      }
      throw error;
    };
  }

  function fetchError(url, status) {
    var error = new Error('cannot fetch ' + url + (status ? ' (' + status + ')' : ''));
    error.file = url;
    error.status = status;
    return error;
  }

  function responseStatus(url) {
    try {
      var entries = performance.getEntriesByName(url);
      return entries.length ? entries[entries.length - 1].responseStatus || 0 : 0;
    } catch (e) {
      return 0;
    }
  }

  /* Why loading failed, from the error, the page's CSP reports and the resource timings of
     dist/: {reason: 'csp'|'http'|'offline'|'cors'|'network'|'config'|'error', file, message}. */
  function loadProblem(error, base, violations) {
    var file = (error && error.file) || '';
    var text = describe(error);
    for (var i = 0; i < violations.length; i++) {
      var v = violations[i];
      var blocked = String(v.blockedURI || '');
      var directive = String(v.effectiveDirective || v.violatedDirective || '');
      var what = null;
      if (blocked === 'wasm-eval') what = "compiling WebAssembly: add 'wasm-unsafe-eval' to script-src";
      else if (blocked === 'eval') what = "eval: add 'unsafe-eval' to script-src";
      else if (originOf(blocked) === originOf(base)) what = blocked + ': allow ' + originOf(base) + ' in ' + directive;
      if (what) {
        return { reason: 'csp', file: blocked.indexOf('eval') < 0 ? blocked : file,
          message: 'the Content-Security-Policy (' + directive + ') blocked ' + what + '.' };
      }
    }
    if (/Content Security Policy|unsafe-eval/.test(text)) {
      return { reason: 'csp', file: file,
        message: "the Content-Security-Policy blocked compiling WebAssembly: add 'wasm-unsafe-eval' to script-src (" + text + ').' };
    }
    var status = (error && error.status) || (file && responseStatus(file)) || 0;
    if (!(status >= 400)) {
      try {
        var entries = performance.getEntriesByType('resource');
        for (var j = 0; j < entries.length; j++) {
          if (entries[j].name.indexOf(base) === 0 && entries[j].responseStatus >= 400) {
            file = entries[j].name;
            status = entries[j].responseStatus;
            break;
          }
        }
      } catch (e) { /* no resource timing */ }
    }
    if (status >= 400) {
      return { reason: 'http', file: file,
        message: file + ' answered ' + status + ': deploy every file of one build of dist/ beside tracker.js.' };
    }
    if (error && (error.reason === 'config' || error.reason === 'start')) {
      return { reason: error.reason, file: '', message: text + '.' };
    }
    var network = /fetch|network|import|load/i.test(text) && (!error || error.name === 'TypeError' || error.file);
    if (network && typeof navigator !== 'undefined' && navigator.onLine === false) {
      return { reason: 'offline', file: file, message: 'offline, cannot fetch ' + (file || base) + '.' };
    }
    if (network && file && originOf(file) !== originOf(location.href)) {
      return { reason: 'cors', file: file,
        message: 'cannot fetch ' + file + ': its server must answer with Access-Control-Allow-Origin (CORS), or it is unreachable.' };
    }
    if (network) {
      return { reason: 'network', file: file, message: 'cannot fetch ' + (file || base) + ' (' + text + ').' };
    }
    return { reason: 'error', file: file, message: text + (file ? ' (' + file + ')' : '') + '.' };
  }

  /* The tracker itself threw while starting (a page that broke a builtin, say). */
  function startError(cause) {
    var error = new Error('the tracker failed to start: ' + describe(cause));
    error.reason = 'start';
    error.cause = cause;
    return error;
  }

  function originOf(url) {
    try { return new URL(url, location.href).origin; } catch (e) { return ''; }
  }

  /* Transcrypt's runtime gives builtins Python's str and list methods by plain assignment,
     which the page's for...in loops over arrays and strings would then see: run `evaluate`
     and make what it added to the builtin prototypes non-enumerable. A method of the page's
     own that it replaced (a library that extends String.prototype, say) gets a warning. */
  function hidingAdditions(evaluate) {
    var names = ['Object', 'Array', 'String', 'Number', 'Boolean', 'Function', 'Error', 'Uint8Array'];
    var prototypes = names.map(function (name) { return window[name].prototype; });
    names.push('TypedArray');
    prototypes.push(Object.getPrototypeOf(Uint8Array.prototype));
    var before = prototypes.map(function (proto) {
      var values = {};
      Object.getOwnPropertyNames(proto).forEach(function (key) {
        var property = Object.getOwnPropertyDescriptor(proto, key);
        values[key] = property && property.value;
      });
      return values;
    });
    try {
      return evaluate();
    } finally {
      prototypes.forEach(function (proto, i) {
        Object.getOwnPropertyNames(proto).forEach(function (key) {
          var property = Object.getOwnPropertyDescriptor(proto, key);
          if (!property) return;
          if (Object.prototype.hasOwnProperty.call(before[i], key)) {
            if (property.value !== before[i][key]) {
              warn('the compiled tracker replaced ' + names[i] + '.prototype.' + key +
                   ', which the page had set: use data-runtime="micropython" on this page');
            }
            return;
          }
          if (!property.enumerable || !property.configurable) return;
          property.enumerable = false;
          Object.defineProperty(proto, key, property);
        });
      });
    }
  }

  /* Plain JS functions for the bridge entry points, looked up once rather than per call.
     An interpreter gets `cookieVersion()` with every call (docs/architecture.md: the cookie
     hint), which spares a crossing into JS when the cookies did not change; the compiled
     build gets -2, "read once when needed". */
  function bridge(module, cookieVersion) {
    var start = module.start;
    var call = module.call;
    return {
      start: function (optionsJson) { return start(optionsJson); },
      call: function (name, argsJson) { return call(name, argsJson, cookieVersion ? cookieVersion() : -2); }
    };
  }

  function mark(name) {
    try { performance.mark('tracker:' + name); } catch (e) { /* marks are optional */ }
  }

  function print(line) {
    try { console.log('[tracker] ' + line); } catch (e) { /* no console */ }
  }

  function fetchBytes(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) throw fetchError(url, response.status);
      return response.arrayBuffer();
    }, blame(url)).then(function (buffer) { return new Uint8Array(buffer); });
  }

  try {
    start();
  } catch (e) {
    warn('could not start: ' + describe(e));
  }
})();
