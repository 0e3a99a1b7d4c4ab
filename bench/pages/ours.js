/* The documented snippet (api.md section 1) for the tracker's pages; ready is the queued
   tracker(fn) callback. A classic script: load it without async/defer, before tracker.js. */
window.tracker = window.tracker || function () { (tracker.q = tracker.q || []).push(arguments); };
tracker('init', { collectorUrl: '/collect' });
tracker('setAnonymousUserToken');
tracker(function () {
  var readyAt = performance.now();
  if (!tracker.getUserToken()) {  /* ready also resolves when loading failed */
    window.__bench = { error: 'tracker ready but getUserToken() gave nothing' };
    return;
  }
  window.__bench = {
    readyAt: readyAt,
    calls: {
      get: function () { return tracker.getUserToken(); },
      getAnonymousId: function () { return tracker.getAnonymousId(); },
      set: function () { return tracker.setAnonymousUserToken(); },
      track: typeof tracker.track === 'function'
        ? function (i) { return tracker.track('bench', { i: i }); } : null
    },
    methods: {
      get: 'tracker.getUserToken()', getAnonymousId: 'tracker.getAnonymousId()',
      set: 'tracker.setAnonymousUserToken()', track: "tracker.track('bench', {i})"
    },
    sendsPageEvent: true
  };
  tracker.page();  /* "first event": until the collector acknowledged this page view */
});
