/* Vanilla floor: write one first-party cookie, then report ready. */
(function () {
  var NAME = 'bench_floor';
  function read() {
    var m = document.cookie.match(/(?:^|; )bench_floor=([^;]*)/);
    return m ? m[1] : null;
  }
  function write() {
    var v = read() || 'anonymous-' + Math.random().toString(36).slice(2);
    document.cookie = NAME + '=' + v + '; path=/; max-age=15552000; samesite=lax';
    return v;
  }
  write();
  window.__bench = {
    readyAt: performance.now(),
    calls: { get: read, set: write },
    methods: { get: 'document.cookie read', set: 'document.cookie write' }
  };
})();
