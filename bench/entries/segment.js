/* @segment/analytics-next from npm, as an app would bundle it.
 * Settings are given inline (no CDN settings fetch); the Segment.io destination
 * sends to a local stub so track() does its real delivery work. */
import { AnalyticsBrowser } from '@segment/analytics-next';

const ANON_ID = '6f0c5b2e-1d1b-4c41-9d55-1f0f4a0b9c11';

AnalyticsBrowser.load({
  writeKey: 'bench',
  cdnSettings: {
    integrations: {
      'Segment.io': {
        apiKey: 'bench',
        apiHost: location.host + '/stub/segment',
        protocol: location.protocol.replace(':', ''),
      },
    },
  },
})
  .then(([analytics]) => {
    const id = analytics.user().anonymousId();
    if (!id) throw new Error('no anonymousId');
    window.__bench = {
      readyAt: performance.now(),
      calls: {
        get: () => analytics.user().anonymousId(),
        set: () => analytics.setAnonymousId(ANON_ID),
        track: (i) => analytics.track('bench', { i }),
      },
      methods: {
        get: 'analytics.user().anonymousId()',
        set: 'analytics.setAnonymousId(id)',
        track: "analytics.track('bench', {i})",
      },
      sendsPageEvent: true,
    };
    analytics.page(); // "first event": until the stub acknowledged this page view
  })
  .catch((e) => {
    window.__bench = { error: String((e && e.stack) || e) };
  });
