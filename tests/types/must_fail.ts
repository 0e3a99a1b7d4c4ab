// Wrong uses of the tracker's API: `tsc --noEmit --strict` must reject every line marked
// `// error`, and accept the others (the test checks the line numbers of the errors).

tracker('init', { collectorURL: '/collect' }); // error: misspelt option
tracker('init', { cookieDuration: '6 months' }); // error: a number of ms
tracker('init', { stateStorageStrategy: 'sessionStorage' }); // error: not a strategy
tracker('init', { eventMethod: 'xhr' }); // error: post, get or beacon
tracker('init', { anonymousTracking: { withServerAnonymization: true } }); // error: spelling
tracker('init', { cookieNames: { anonymousID: 'aid' } }); // error: unknown key
tracker('init', { cookieSameSite: 'lax' }); // error: Lax, Strict or None
tracker('nope'); // error: unknown method
tracker('setUserToken', 42); // error: a string
tracker.setUserToken(); // error: the token is required
tracker.setConsent('yes'); // error: granted or denied
tracker.track(); // error: the event name is required
tracker.track('Signed up', 'plan=pro'); // error: properties are an object
tracker.track('Signed up', {}, { anonymousID: 'x' }); // error: unknown option
tracker.enableAnonymousTracking({ stateStorageStrategy: 'memory' }); // error: not a strategy
tracker.clearUserData({ preserve: true }); // error: unknown key
const token: string = tracker.getUserToken(); // error: may be null
const index: string | null = tracker.getSessionIndex(); // error: a number
const ready: boolean = tracker.ready; // error: a Promise
tracker.user().traits('plan'); // error: traits are an object
tracker.group().id('acme'); // error: group().id() takes no argument
tracker.getConsent() === 'maybe'; // error: no overlap
tracker.flush().then((n: number) => n); // error: resolves with nothing
tracker.track('Fine'); // fine: no error on this line
const access: string | null = tracker.getAccessToken(); // error: a Promise
tracker.loadError = null; // error: read-only
window.aa('init', {}); // error: a renamed global must be declared
console.log(token, index, ready, access);
