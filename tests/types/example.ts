// Every method and option of the tracker's public API, as a site written in TypeScript uses
// them; `tsc --noEmit --strict` must accept this file with dist/tracker.d.ts.

tracker('init', {
  collectorUrl: '/collect',
  appId: 'shop',
  cookieDuration: 15552000000,
  cookieDomain: 'shop.example',
  cookiePath: '/',
  cookieSameSite: 'Lax',
  cookieSecure: true,
  stateStorageStrategy: 'cookieAndLocalStorage',
  anonymousTracking: { withSessionTracking: true },
  eventMethod: 'beacon',
  sessionTimeout: 1800,
  userToken: 'user-1',
  authenticatedUserToken: 'customer-1',
  anonymousId: '0b1e8f0e-5c1e-4b8e-9d5a-0c4e7c1f2a3b',
  cookieNames: { userToken: 'my_tok', anonymousId: 'aid', session: 'ses', queue: 'q', consent: 'c' },
  maxQueueSize: 500,
  retryStatusCodes: [418],
  dontRetryStatusCodes: [503],
  respectGlobalPrivacyControl: true,
});
tracker('init', { collectorUrl: null, anonymousTracking: false, cookieSecure: null });
tracker('setAnonymousUserToken');
tracker('onUserTokenChange', (token) => console.log(token?.length), { immediate: true });
tracker(() => console.log('ready'));
const commandToken: string | null | undefined = tracker('getUserToken');
const commandGroup = tracker('group');

async function main(): Promise<void> {
  await tracker.ready;
  const inCookie: string | null = tracker.setAnonymousUserToken();
  const inMemory: string | null = tracker.setAnonymousUserToken(true);
  tracker.setUserToken('user-42');
  const token: string | null = tracker.getUserToken();
  if (token !== null) console.log(token.toUpperCase());
  tracker.setAuthenticatedUserToken('customer-1234');
  tracker.setAuthenticatedUserToken(null);
  const authenticated: string | null = tracker.getAuthenticatedUserToken();
  tracker.onUserTokenChange((t: string | null) => console.log(t));

  const anonymousId: string | null = tracker.getAnonymousId();
  tracker.setAnonymousId('9c0a3d4e-1b2c-4d5e-8f90-a1b2c3d4e5f6');
  tracker.identify('user-1', { plan: 'pro', seats: 3 }, { context: { ip: '10.0.0.1' } });
  tracker.identify({ email: 'jane@example.com' });
  const user = tracker.user();
  const userId: string | null = user.id();
  user.id('user-2');
  const userAnonymousId: string | null = user.anonymousId();
  user.anonymousId('1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b');
  user.anonymousId(null);
  const traits: Tracker.Traits = user.traits();
  user.traits({});
  tracker.group('acme', { employees: 40 });
  const group: Tracker.Group = tracker.group();
  const groupId: string | null = group.id();
  group.traits({ plan: 'enterprise' });
  tracker.reset();

  tracker.enableAnonymousTracking();
  tracker.enableAnonymousTracking({ options: { withServerAnonymisation: true }, stateStorageStrategy: 'none' });
  tracker.enableAnonymousTracking({ options: true });
  tracker.disableAnonymousTracking({ stateStorageStrategy: 'cookie' });
  tracker.disableAnonymousTracking();
  tracker.clearUserData();
  tracker.clearUserData({ preserveSession: true, preserveUser: false });
  const mode: Tracker.Mode = tracker.getMode();
  const strategy: Tracker.StateStorageStrategy = mode.stateStorageStrategy;
  const serverAnonymised: boolean = mode.withServerAnonymisation;
  const sessionId: string | null = tracker.getSessionId();
  const sessionIndex: number | null = tracker.getSessionIndex();

  tracker.setConsent('granted');
  tracker.setConsent('denied');
  const consent: 'granted' | 'denied' | null = tracker.getConsent();

  const messageId: string | null = tracker.track('Added to cart', { sku: 'A-1', price: 9.5 }, {
    anonymousId: '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d',
    context: { traits: { vip: true }, ip: '192.0.2.1', locale: 'en' },
  });
  tracker.track('Signed up');
  tracker.page();
  tracker.page('Home');
  tracker.page('Docs', 'Install', { version: 2 }, { context: { ip: '192.0.2.2' } });
  tracker.page({ referrer: 'newsletter' });
  tracker.page('Pricing', { plan: 'pro' });
  const buffered: Tracker.TrackedEvent[] = tracker.getBufferedEvents();
  for (const event of buffered) console.log(event.messageId, event.type, event.context.page?.url);
  await tracker.flush();
  tracker('flush');

  const tokens = await tracker.startAnonymousSession({ metadata: { cart: ['A-1'] } });
  if (tokens) console.log(tokens.session_token, tokens.access_token, tokens.token_type, tokens.expires_in);
  const accessToken: string | null = await tracker.getAccessToken();
  await tracker.updateSessionMetadata({ cart: [] });
  await tracker.transferAnonymousSession('login-proof');
  if (tracker.loadError) console.warn(tracker.loadError.reason, tracker.loadError.file);

  console.log(inCookie, inMemory, authenticated, anonymousId, userId, userAnonymousId, traits,
    groupId, strategy, serverAnonymised, sessionId, sessionIndex, consent, messageId,
    accessToken, commandToken, commandGroup);
}

// The same global through `window`, and a renamed one (data-global="aa").
declare var aa: Tracker.Global;
window.tracker('track', 'From window');
aa('init', { collectorUrl: '/collect', anonymousTracking: { withServerAnonymisation: true } });
aa.track('Renamed global works');
aa.ready.then(() => aa.getMode());

main();
