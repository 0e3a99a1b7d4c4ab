"""The JS side of the browser host, as source: the object `tracker/browser.py` calls for
cookies, localStorage, clock, randomness, sending and page events.

build.py puts this function body into dist/tracker.js, which hands the object (plus
`callback`) to the tracker: as the JS module `_tracker_host` to the interpreters, through
`use_helpers` to the compiled build. Only pages without the loader (PyScript) build it
here, with `Function`; so the compiled build leaves this module out. Results that can fail
are tagged strings: '+value', '-' (null) or '!error message'.
"""

__all__ = ["HELPERS_JS"]

HELPERS_JS = """
function guard(f) {
  try {
    var v = f();
    return v == null ? '-' : '+' + v;
  } catch (e) {
    return '!' + ((e && e.message) || e);
  }
}
function ls() { return window.localStorage; }
var cookies = { text: null, version: 0 };
function cookieVersion() {
  var text = document.cookie;
  if (text !== cookies.text) {
    cookies.text = text;
    cookies.version += 1;
  }
  return cookies.version;
}
function warn(m) { try { console.warn('[tracker] ' + m); } catch (e) {} }
function run(f, arg, what) {
  try {
    if (arg === undefined) f(); else f(arg);
  } catch (e) {
    warn(what + ' failed: ' + ((e && e.message) || e));
  }
}
function defer(f) {
  queueMicrotask(function () { run(f, undefined, 'deferred work'); });
}
var page = { key: null };
return {
  warn: warn,
  defer: defer,
  send: function (method, url, body, contentType, headersJson, keepalive, done, wantBody,
                  credentials) {
    var answered = false;
    function answer(status, text) {
      if (answered) return;
      answered = true;
      try {
        done(status, text || '');
      } catch (e) {
        warn('handling an answer of the collector failed: ' + ((e && e.message) || e));
      }
    }
    try {
      var headers = JSON.parse(headersJson);
      if (contentType) headers['Content-Type'] = contentType;
      var init = { method: method, headers: headers, keepalive: !!keepalive,
                   credentials: credentials, mode: 'cors', cache: 'no-store' };
      if (body) init.body = body;
      fetch(url, init).then(function (r) {
        if (!wantBody) return answer(r.status);
        r.text().then(function (t) { answer(r.status, t); }, function () { answer(r.status); });
      }, function () { answer(0); });
    } catch (e) {
      queueMicrotask(function () { answer(0); });
    }
  },
  beacon: function (url, body) {
    try { return navigator.sendBeacon(url, body) ? 1 : 0; } catch (e) { return 0; }
  },
  schedule: function (f, ms) {
    setTimeout(function () { run(f, undefined, 'scheduled work'); }, ms);
  },
  listen: function (f) {
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') run(f, 'hidden', 'page hide');
    });
    window.addEventListener('pagehide', function () { run(f, 'pagehide', 'page hide'); });
    window.addEventListener('online', function () { run(f, 'online', 'going online'); });
  },
  pageInfo: function () {
    try {
      var key = location.href + ' | ' + document.referrer + ' | ' + document.title;
      if (key === page.key) return '=';
      page.key = key;
      return JSON.stringify({ url: location.href, path: location.pathname,
                              referrer: document.referrer, title: document.title,
                              userAgent: navigator.userAgent });
    } catch (e) {
      return '{}';
    }
  },
  randomHex: function (n) {
    var hex = '';
    for (var done = 0; done < n; done += 65536) {
      var bytes = new Uint8Array(Math.min(65536, n - done));
      crypto.getRandomValues(bytes);
      for (var i = 0; i < bytes.length; i++) {
        hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
      }
    }
    return hex;
  },
  privacySignal: function () {
    try {
      return (navigator.globalPrivacyControl === true || navigator.doNotTrack === '1' ||
              window.doNotTrack === '1') ? 1 : 0;
    } catch (e) {
      return 0;
    }
  },
  now: function () { try { return String(Date.now()); } catch (e) { return '0'; } },
  secure: function () {
    try { return location.protocol === 'https:' ? 1 : 0; } catch (e) { return 0; }
  },
  cookieRead: function (known) {
    return guard(function () {
      var version = cookieVersion();
      return known === version ? '=' : version + ' ' + cookies.text;
    });
  },
  cookieVersion: function () {
    try { return cookieVersion(); } catch (e) { return -1; }
  },
  cookieWrite: function (v) { return guard(function () { document.cookie = v; return ''; }); },
  storageGet: function (k) { return guard(function () { return ls().getItem(k); }); },
  storageSet: function (k, v) { return guard(function () { ls().setItem(k, v); return ''; }); },
  storageRemove: function (k) { return guard(function () { ls().removeItem(k); return ''; }); },
  callback: function () {}
};
"""
