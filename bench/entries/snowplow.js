/* @snowplow/browser-tracker from npm, as an app would bundle it; events go to
 * a local stub collector. */
import { newTracker, setUserId, trackPageView, trackStructEvent } from '@snowplow/browser-tracker';

try {
  const sp = newTracker('sp', location.origin + '/stub/snowplow', {
    appId: 'bench',
    eventMethod: 'post',
    stateStorageStrategy: 'cookieAndLocalStorage',
  });
  if (!sp || !sp.getDomainUserId()) throw new Error('no domain user id');
  window.__bench = {
    readyAt: performance.now(),
    calls: {
      get: () => sp.getDomainUserId(),
      set: () => setUserId('bench-user'),
      track: (i) => trackStructEvent({ category: 'bench', action: 'track', label: String(i) }),
    },
    methods: {
      get: 'tracker.getDomainUserId()',
      set: "setUserId('bench-user')",
      track: 'trackStructEvent({...})',
    },
    sendsPageEvent: true,
  };
  trackPageView(); // "first event": until the stub collector acknowledged this page view
} catch (e) {
  window.__bench = { error: String((e && e.stack) || e) };
}
