/* Shared helpers for the demo pages: pick the runtime, load the tracker, show state live.
 *
 * A page's <head> holds its charset, its title and this file (which adds the rest of the
 * head every page shares: viewport, no favicon, /demo.css), then the spec's stub snippet
 * and a call to Demo.loadTracker(); its own script registers a renderer with Demo.start(fn).
 * Every value field gets its text and a data-value attribute holding the exact
 * JSON of the value ("undefined" when there is none), for people and tests alike.
 *
 * What every page shares is filled in here, into placeholders (see SHARED and LOGS below):
 *   <nav data-demo-nav>            the nav bar: #nav-index #nav-identity #nav-consent
 *                                  #nav-pyscript #nav-shop #runtime-compiled
 *                                  #runtime-micropython #runtime-pyodide #status
 *   <section data-demo-storage>    #cookies #cookie-table #local-storage
 *   <section data-demo-events>     #stored-events (what the collector stored)
 *   <div data-demo-logs="steps warnings">  a card per log (#steps, #warnings), after the
 *                                  page's own cards in it
 * and #runtime, a cell of each page's State table, shows the runtime that ?runtime= picked
 * (?runtime=micropython or ?runtime=pyodide switches it).
 */
(function () {
  'use strict';

  /* The head every page shares; the stylesheet blocks rendering as it would in the markup. */
  [['meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }],
   ['link', { rel: 'icon', href: 'data:,' }],
   ['link', { rel: 'stylesheet', href: '/demo.css', blocking: 'render' }]
  ].forEach(function (spec) {
    var element = document.createElement(spec[0]);
    Object.keys(spec[1]).forEach(function (name) { element.setAttribute(name, spec[1][name]); });
    document.head.appendChild(element);
  });

  var RUNTIMES = ['compiled', 'micropython', 'pyodide'];
  var params = new URLSearchParams(location.search);
  var runtime = RUNTIMES.indexOf(params.get('runtime')) >= 0 ? params.get('runtime') : 'compiled';
  var status = 'loading';
  var renderers = [];
  var warnings = [];

  /* Keep a copy of console.warn lines: the tracker reports refused calls this way. */
  var originalWarn = console.warn;
  console.warn = function () {
    var text = Array.prototype.map.call(arguments, function (a) {
      return typeof a === 'string' ? a : safeJson(a);
    }).join(' ');
    warnings.push(clock() + '  ' + text);
    if (warnings.length > 20) warnings.shift();
    return originalWarn.apply(console, arguments);
  };

  function safeJson(value) {
    try { return JSON.stringify(value); } catch (e) { return String(value); }
  }

  function clock() {
    return new Date().toISOString().slice(11, 23);
  }

  /* Insert <script src="/dist/tracker.js" async data-runtime="..."> and follow its readiness. */
  function loadTracker() {
    var script = document.createElement('script');
    script.src = '/dist/tracker.js';
    script.async = true;
    script.setAttribute('data-runtime', runtime);
    script.onload = function () {
      var ready = window.tracker && window.tracker.ready;
      if (ready && typeof ready.then === 'function') {
        status = 'starting ' + runtime + '…';
        ready.then(function () { status = 'ready'; render(); },
                   function (err) { status = 'failed: ' + err; render(); });
      } else {
        status = 'failed: tracker.js loaded but set no tracker.ready';
      }
      render();
    };
    script.onerror = function () {
      status = 'failed: /dist/tracker.js did not load (run .venv/bin/python build.py)';
      render();
    };
    document.head.appendChild(script);
  }

  /* Run a command through the queueing form tracker('name', ...args), then re-render. */
  function call(name) {
    var args = Array.prototype.slice.call(arguments);
    var result;
    try {
      result = window.tracker.apply(window, args);
    } catch (err) {
      console.warn('demo: tracker(' + safeJson(name) + ') threw: ' + err);
    }
    render();
    return result;
  }

  /* Read a value through the tracker's direct API once ready: {value} or {error} or {pending}. */
  function read(fn) {
    if (status !== 'ready') return { pending: true };
    try {
      return { value: fn(window.tracker) };
    } catch (err) {
      return { error: err && err.message ? err.message : String(err) };
    }
  }

  function format(value) {
    if (value === undefined) return 'undefined';
    if (typeof value === 'string') return value;
    return safeJson(value);
  }

  /* Put a read() result (or a plain value) into the element with that id. */
  function show(id, result) {
    var el = document.getElementById(id);
    if (!el) return;
    if (!result || typeof result !== 'object' || !('value' in result || result.pending || result.error)) {
      result = { value: result };
    }
    if (result.pending) {
      el.textContent = '…';
      el.setAttribute('data-state', 'pending');
      el.removeAttribute('data-value');
    } else if (result.error) {
      el.textContent = '⚠ ' + result.error;
      el.setAttribute('data-state', 'error');
      el.removeAttribute('data-value');
    } else {
      el.textContent = format(result.value);
      el.setAttribute('data-state', result.value === null || result.value === undefined ? 'empty' : 'set');
      el.setAttribute('data-value', result.value === undefined ? 'undefined' : safeJson(result.value));
    }
  }

  function cookies() {
    var jar = {};
    document.cookie.split(';').forEach(function (pair) {
      var i = pair.indexOf('=');
      var name = (i < 0 ? pair : pair.slice(0, i)).trim();
      if (name) jar[name] = i < 0 ? '' : pair.slice(i + 1).trim();
    });
    return jar;
  }

  function storage() {
    var items = {};
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        items[key] = localStorage.getItem(key);
      }
    } catch (e) { /* storage blocked: show it empty */ }
    return items;
  }

  /* Expire every cookie this page can see, for the path and the host variants it may use. */
  function deleteCookies() {
    var host = location.hostname;
    var paths = ['/', location.pathname];
    Object.keys(cookies()).forEach(function (name) {
      paths.forEach(function (path) {
        ['', '; domain=' + host, '; domain=.' + host].forEach(function (domain) {
          document.cookie = name + '=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=' + path + domain;
        });
      });
    });
    render();
  }

  function setCookie(name, value, seconds) {
    document.cookie = name + '=' + value + '; path=/; max-age=' + seconds + '; SameSite=Lax';
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /* A key/value table (tbody) from a plain object; the tbody's data-value is the object's JSON. */
  function table(id, items) {
    var body = document.getElementById(id);
    if (!body) return;
    var json = safeJson(items);
    if (body.getAttribute('data-value') === json) return;
    body.setAttribute('data-value', json);
    body.textContent = '';
    var keys = Object.keys(items).sort();
    if (!keys.length) {
      var empty = body.insertRow();
      var cell = empty.insertCell();
      cell.colSpan = 2;
      cell.className = 'muted';
      cell.textContent = '(empty)';
    }
    keys.forEach(function (key) {
      var row = body.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = items[key];
    });
  }

  /* A list (ol/ul) from an array of strings, newest last. */
  function list(id, lines) {
    var el = document.getElementById(id);
    if (!el || el.getAttribute('data-count') === String(lines.length) && el.lastChild &&
        el.lastChild.textContent === lines[lines.length - 1]) return;
    el.setAttribute('data-count', String(lines.length));
    el.textContent = '';
    lines.forEach(function (line) {
      var li = document.createElement('li');
      li.textContent = line;
      el.appendChild(li);
    });
  }

  function render() {
    if (document.readyState === 'loading') return;
    fillShared();
    show('runtime', runtime);
    show('status', status);
    var badge = document.getElementById('status');
    if (badge) badge.className = 'status ' + status.split(/[ :]/)[0];
    show('cookies', document.cookie);
    table('cookie-table', cookies());
    table('local-storage', storage());
    list('warnings', warnings);
    pollEvents();
    renderers.forEach(function (fn) {
      try { fn(); } catch (err) { originalWarn.call(console, 'demo: render failed', err); }
    });
  }

  /* What the collector stored, live: the newest events from GET /api/events with the
     identifiers, IP and network id each carries (null where the mode withheld them). */
  var stored = { events: [], after: 0, busy: false, error: null };
  var EVENT_COLUMNS = ['received', 'event', 'anonymousId', 'userId', 'userToken', 'session', 'ip',
                       'network_userid'];

  function pollEvents() {
    if (stored.busy || !document.getElementById('stored-events')) return;
    stored.busy = true;
    fetch('/api/events?limit=500&after=' + stored.after, { cache: 'no-store' })
      .then(function (reply) {
        if (!reply.ok) throw new Error('GET /api/events answered ' + reply.status);
        return reply.json();
      })
      .then(function (page) {
        var events = Array.isArray(page) ? page : page.events || [];
        stored.error = null;
        stored.events = stored.events.concat(events).slice(-12);
        if (events.length) stored.after = events[events.length - 1]._id;
        stored.busy = false;
        if (events.length === 500) pollEvents();
        renderEvents();
      }, function (err) {
        stored.error = String(err && err.message || err);
        stored.busy = false;
        renderEvents();
      });
  }

  function eventRow(e) {
    var session = e.session ? e.session.index + ' · ' + String(e.session.id).slice(0, 8) : null;
    var name = e.type === 'track' ? e.event : e.type + (e.name ? ' ' + e.name : '');
    return [String(e.received_at || '').slice(11, 19), name, e.anonymousId || null,
            e.userId || null, e.userToken || null, session, e.ip, e.network_userid];
  }

  function renderEvents() {
    var body = document.getElementById('stored-events');
    if (!body) return;
    var json = safeJson([stored.events.map(function (e) { return e.messageId; }), stored.error]);
    if (body.getAttribute('data-seen') === json) return;
    body.setAttribute('data-seen', json);
    body.setAttribute('data-count', String(stored.events.length));
    body.textContent = '';
    if (stored.error || !stored.events.length) {
      var cell = body.insertRow().insertCell();
      cell.colSpan = EVENT_COLUMNS.length;
      cell.className = 'muted';
      cell.textContent = stored.error || '(nothing stored yet)';
      return;
    }
    stored.events.slice().reverse().forEach(function (e) {
      var row = body.insertRow();
      row.setAttribute('data-message-id', e.messageId);
      row.setAttribute('data-value', safeJson(e));
      eventRow(e).forEach(function (value) {
        var td = row.insertCell();
        td.textContent = value === null || value === undefined ? '—' : String(value);
        if (value === null || value === undefined) td.className = 'muted';
      });
    });
  }

  /* The nav bar and the storage and events cards every page shares, filled into
     <nav data-demo-nav>, <section data-demo-storage> and <section data-demo-events>. */
  var SHARED = {
    '[data-demo-nav]':
    '  <span class="brand">tracker demo</span>\n' +
    '  <a id="nav-index" data-page href="/index.html">User tokens</a>\n' +
    '  <a id="nav-identity" data-page href="/identity.html">Identity</a>\n' +
    '  <a id="nav-consent" data-page href="/consent.html">Consent</a>\n' +
    '  <a id="nav-pyscript" data-page href="/pyscript.html">PyScript</a>\n' +
    '  <a id="nav-shop" data-page href="/shop.html">Shop</a>\n' +
    '  <span class="spacer"></span>\n' +
    '  <span class="runtime">runtime:\n' +
    '    <a id="runtime-compiled" href="?runtime=compiled">compiled JS</a>\n' +
    '    <a id="runtime-micropython" href="?runtime=micropython">MicroPython</a>\n' +
    '    <a id="runtime-pyodide" href="?runtime=pyodide">Pyodide</a>\n' +
    '  </span>\n' +
    '  <span id="status" class="status">loading</span>\n',
    '[data-demo-storage]':
    '    <h2>Storage</h2>\n' +
    '    <p class="hint">document.cookie: <code id="cookies" class="value"></code></p>\n' +
    '    <div class="grid">\n' +
    '      <table class="kv"><caption class="muted">cookies</caption><tbody id="cookie-table"></tbody></table>\n' +
    '      <table class="kv"><caption class="muted">localStorage</caption><tbody id="local-storage"></tbody></table>\n' +
    '    </div>\n',
    '[data-demo-events]':
    '    <h2>Stored by the collector</h2>\n' +
    '    <p class="hint">The newest events in the collector\'s database (<code>GET /api/events</code>),\n' +
    '      newest first. In an anonymous mode the identifiers are gone; with server anonymisation\n' +
    '      the IP and the network id are too.</p>\n' +
    '    <div class="scroll"><table class="events"><thead><tr>' +
    EVENT_COLUMNS.map(function (c) { return '<th>' + c + '</th>'; }).join('') +
    '</tr></thead><tbody id="stored-events"></tbody></table></div>\n'
  };

  /* The log cards, by the id of their list: a page's <div data-demo-logs="steps warnings">
     (a grid, or a plain div for one card) gets one card per name, after its own cards. */
  var LOGS = {
    steps: '<h2>Steps</h2>\n<ol id="steps" class="log"></ol>',
    warnings: '<h2>Warnings</h2>\n<ol id="warnings" class="log warnings"></ol>'
  };

  function fillShared() {
    Object.keys(SHARED).forEach(function (selector) {
      var element = document.querySelector(selector);
      if (element && !element.firstElementChild) element.innerHTML = SHARED[selector];
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-demo-logs]'), function (box) {
      box.getAttribute('data-demo-logs').split(/\s+/).forEach(function (id) {
        if (!LOGS[id] || document.getElementById(id)) return;
        var card = document.createElement('section');
        card.className = 'card';
        card.innerHTML = LOGS[id];
        box.appendChild(card);
      });
    });
  }

  /* Keep the runtime choice on every nav link, and mark the current page and runtime. */
  function wireNav() {
    fillShared();
    var links = document.querySelectorAll('nav a[data-page]');
    Array.prototype.forEach.call(links, function (a) {
      var url = new URL(a.getAttribute('href'), location.href);
      if (runtime !== 'compiled') url.searchParams.set('runtime', runtime);
      a.href = url.pathname + url.search;
      var here = location.pathname === url.pathname ||
        (location.pathname === '/' && url.pathname === '/index.html');
      if (here) a.setAttribute('aria-current', 'page');
    });
    RUNTIMES.forEach(function (name) {
      var a = document.getElementById('runtime-' + name);
      if (!a) return;
      var url = new URL(location.href);
      url.searchParams.set('runtime', name);
      a.href = url.pathname + url.search;
      if (name === runtime) a.setAttribute('aria-current', 'true');
    });
  }

  /* Register the page's renderer; render now, after every button, and every second. */
  function start(renderer) {
    if (renderer) renderers.push(renderer);
    var go = function () {
      wireNav();
      document.addEventListener('click', function (event) {
        if (event.target.closest && event.target.closest('button')) setTimeout(render, 0);
      });
      render();
      setInterval(render, 1000);
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
    else go();
  }

  /* Wire a button id to a handler; handler errors are logged, never thrown into the page. */
  function on(id, handler) {
    var el = document.getElementById(id);
    if (!el) return;
    el.addEventListener('click', function () {
      try { handler(); } catch (err) { console.warn('demo: ' + id + ': ' + err); }
      render();
    });
  }

  function value(id) {
    var el = document.getElementById(id);
    return el ? el.value : '';
  }

  /* Parse a JSON text field; warn and return undefined when it is not JSON. */
  function jsonValue(id) {
    var text = value(id).trim();
    if (!text) return {};
    try { return JSON.parse(text); } catch (err) {
      console.warn('demo: #' + id + ' is not JSON: ' + err.message);
      return undefined;
    }
  }

  /* sessionStorage, for the demo's own notes across a reload (never the tracker's storage). */
  function note(key, val) {
    try {
      if (arguments.length > 1) {
        if (val === null) sessionStorage.removeItem('demo_' + key);
        else sessionStorage.setItem('demo_' + key, JSON.stringify(val));
      }
      var raw = sessionStorage.getItem('demo_' + key);
      return raw === null ? null : JSON.parse(raw);
    } catch (e) { return null; }
  }

  window.Demo = {
    runtime: runtime,
    status: function () { return status; },
    loadTracker: loadTracker,
    call: call,
    read: read,
    show: show,
    list: list,
    table: table,
    render: render,
    start: start,
    on: on,
    value: value,
    jsonValue: jsonValue,
    cookies: cookies,
    storage: storage,
    deleteCookies: deleteCookies,
    setCookie: setCookie,
    uuid: uuid,
    clock: clock,
    note: note
  };
})();
