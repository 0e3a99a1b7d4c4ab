/**
 * Type declarations for the tracker's browser build, `dist/tracker.js`: visitor identity and
 * anonymous tracking (Algolia user tokens, Segment ids, Snowplow anonymous modes) in
 * portable Python, compiled ahead of time to JavaScript (the default), or run by MicroPython
 * or Pyodide in the page (`<script src="/dist/tracker.js" data-runtime="micropython">`).
 *
 * Use: add this file to your `tsconfig.json` `files` (or `/// <reference path="tracker.d.ts" />`).
 * It declares the global `tracker` (also `window.tracker`). When the script tag renames the
 * global (`<script src="/dist/tracker.js" data-global="aa">`), declare yours with the same type:
 *
 * ```ts
 * declare var aa: Tracker.Global;
 * aa('init', { collectorUrl: '/collect' });
 * ```
 *
 * Calls made through the stub before `tracker.js` runs are queued and replayed in order. With
 * the default compiled build the tracker is ready as soon as `tracker.js` has run (no second
 * fetch); with `data-runtime="micropython"` or `"pyodide"` direct calls
 * (`tracker.getUserToken()`) return their value once `tracker.ready` has resolved (before
 * that, `undefined`). Nothing the tracker does throws into the page: an unknown method or a
 * bad argument logs one `console.warn` and is ignored.
 */
declare namespace Tracker {
  /** Where all tracker state lives (spec section 3). `none` keeps everything in memory. */
  type StateStorageStrategy = 'cookieAndLocalStorage' | 'cookie' | 'localStorage' | 'none';

  /** How events reach the collector: JSON `POST`, one `GET /i?...` pixel per event, or
   * `sendBeacon` (`text/plain`). */
  type EventMethod = 'post' | 'get' | 'beacon';

  /** The visitor's remembered consent choice. */
  type Consent = 'granted' | 'denied';

  /** Options of an anonymous mode (Snowplow semantics). */
  interface AnonymousTrackingOptions {
    /** Keep (and store) the session id and index; needs a strategy other than `none`. */
    withSessionTracking?: boolean;
    /** Every request carries `SP-Anonymous: *`: the collector stores no IP and sets no
     * network cookie (events then go by `post`, as beacons cannot send headers). */
    withServerAnonymisation?: boolean;
  }

  /** `false` (full tracking), `true` (no user identifiers, no session, nothing new stored),
   * or an {@link AnonymousTrackingOptions} object. */
  type AnonymousTracking = boolean | AnonymousTrackingOptions;

  /** Renames of the stored keys (cookie and localStorage names). */
  interface CookieNames {
    /** Anonymous user token cookie; default `_ALGOLIA`. */
    userToken?: string;
    /** Default `ajs_anonymous_id`. */
    anonymousId?: string;
    /** Default `ajs_user_id`. */
    userId?: string;
    /** localStorage only; default `ajs_user_traits`. */
    userTraits?: string;
    /** Default `ajs_group_id`. */
    groupId?: string;
    /** localStorage only; default `ajs_group_properties`. */
    groupTraits?: string;
    /** Session id, index and last activity; default `_trk_ses`. */
    session?: string;
    /** localStorage only: the anonymous session's tokens; default `_trk_anon_session`. */
    anonymousSession?: string;
    /** The event buffer (localStorage only); default `_trk_queue`. */
    queue?: string;
    /** The remembered consent choice (cookie); default `_trk_consent`. */
    consent?: string;
  }

  /** `init` options; all optional, and `init` may be called again to change them. */
  interface InitOptions {
    /** Where events go (`POST` here, pixels to `/i` beside it). Without one, events wait in
     * the buffer and nothing is sent. */
    collectorUrl?: string | null;
    /** Copied onto every event. Default `""`. */
    appId?: string;
    /** Lifetime of the anonymous user token cookie, in ms. Default `15552000000` (6 months);
     * at most 400 days. */
    cookieDuration?: number;
    /** Cookie domain. Default: the current host. */
    cookieDomain?: string | null;
    /** Cookie path. Default `/`. */
    cookiePath?: string;
    /** Cookie `SameSite`. Default `Lax`. */
    cookieSameSite?: 'Lax' | 'Strict' | 'None';
    /** Cookie `Secure` flag. Default: on https only. */
    cookieSecure?: boolean | null;
    /** Where tracker state lives. Default `cookieAndLocalStorage`. */
    stateStorageStrategy?: StateStorageStrategy;
    /** The anonymous mode for visitors who have made no consent choice. Default `false`. */
    anonymousTracking?: AnonymousTracking;
    /** Default `post`. */
    eventMethod?: EventMethod;
    /** Idle seconds after which a new session starts. Default `1800`. */
    sessionTimeout?: number;
    /** Initial user token (1 to 129 characters of `[a-zA-Z0-9_=/+-]`). */
    userToken?: string;
    /** Initial authenticated user token. */
    authenticatedUserToken?: string | null;
    /** Initial anonymousId (persisted as `setAnonymousId` does). */
    anonymousId?: string;
    /** Rename any stored key, e.g. `{userToken: 'my_tok'}`. */
    cookieNames?: CookieNames;
    /** Events kept waiting for the collector; past it the oldest is dropped with a warning.
     * Default `1000`. */
    maxQueueSize?: number;
    /** Collector answers that keep events for a retry (besides network errors, 408, 425,
     * 429 and 5xx). */
    retryStatusCodes?: number[];
    /** Collector answers that drop events (besides every other 4xx). */
    dontRetryStatusCodes?: number[];
    /** When the browser signals Global Privacy Control or Do Not Track, a visitor with no
     * stored consent choice starts in `{withServerAnonymisation: true}` with strategy
     * `none`. Default `false`. */
    respectGlobalPrivacyControl?: boolean;
  }

  /** User or group traits (any JSON object). */
  interface Traits {
    [key: string]: unknown;
  }

  /** Event properties (any JSON object). */
  interface Properties {
    [key: string]: unknown;
  }

  /** `options.context` of one call: merged into that event's context only. */
  interface EventContext {
    /** Traits sent on this event only (dropped in anonymous modes). */
    traits?: Traits;
    /** Replaces the IP the collector records (dropped under server anonymisation). */
    ip?: string;
    [key: string]: unknown;
  }

  /** The `options` argument of `track`, `page`, `identify` and `group`. */
  interface EventOptions {
    /** Sets and persists the anonymousId (as `setAnonymousId`). */
    anonymousId?: string;
    context?: EventContext;
  }

  /** The session on an event. */
  interface Session {
    id: string;
    index: number;
  }

  /** An event as it goes to the collector (and as `getBufferedEvents()` returns it). */
  interface TrackedEvent {
    type: 'track' | 'page' | 'identify' | 'group';
    /** uuid4; the collector stores each messageId once. */
    messageId: string;
    /** Client time, ms since the epoch. */
    timestamp: number;
    appId: string;
    properties: Properties;
    context: {
      library: { name: string; version: string };
      page?: { url?: string; path?: string; referrer?: string; title?: string };
      userAgent?: string;
      traits?: Traits;
      ip?: string;
      session?: Session;
      [key: string]: unknown;
    };
    /** The track call's event name. */
    event?: string;
    /** The page's name. */
    name?: string;
    anonymousId?: string;
    userId?: string;
    userToken?: string;
    authenticatedUserToken?: string;
    /** identify's traits. */
    traits?: Traits;
    /** group's id. */
    groupId?: string;
    session?: Session;
  }

  /** The anonymous mode and storage strategy in force (`getMode()`). */
  interface Mode {
    anonymousTracking: AnonymousTracking;
    anonymous: boolean;
    withSessionTracking: boolean;
    withServerAnonymisation: boolean;
    stateStorageStrategy: StateStorageStrategy;
  }

  /** Segment's `analytics.user()`: the current user. */
  interface User {
    /** The userId, `null` when none (or while anonymous). */
    id(): string | null;
    /** Set the userId (a different one rotates the anonymousId first); returns it. */
    id(userId: string): string | null;
    /** The anonymousId, created and stored when missing; `null` while anonymous. */
    anonymousId(): string | null;
    /** Set and persist the anonymousId; `null` forgets it (a new one on next use). */
    anonymousId(anonymousId: string | null): string | null;
    /** The cached traits. */
    traits(): Traits;
    /** Replace the cached traits (`traits({})` clears them). */
    traits(traits: Traits): Traits;
  }

  /** Segment's `analytics.group()`: the current group. */
  interface Group {
    id(): string | null;
    traits(): Traits;
    /** Replace the group's cached traits (`traits({})` clears them). */
    traits(traits: Traits): Traits;
  }

  /** Metadata kept with an anonymous session (any JSON object). */
  interface SessionMetadata {
    [key: string]: unknown;
  }

  /** What `POST /anonymous/token` answers (spec section 6). */
  interface AnonymousSessionTokens {
    /** Signed JWT: `user_id`, `session_id`, `created_at`, `metadata`, `iss`, `exp`. */
    session_token: string;
    /** Signed JWT for your APIs: `sub` (the user id), `aud`, `iss`, `exp`, `iat`, `scope`. */
    access_token: string;
    token_type: 'Bearer';
    /** Seconds. */
    expires_in: number;
  }

  /** Every method, as a direct call (`tracker.track(...)`) and as a command
   * (`tracker('track', ...)`). */
  interface Methods {
    /** Configure (or reconfigure); identities already stored are kept. */
    init(options?: InitOptions): void;

    /** Algolia semantics: reuse the `_ALGOLIA` cookie's `anonymous-<uuid4>` token or write a
     * new one for `cookieDuration` (nothing when cookies are not usable); `inMemory: true`
     * makes a new token on every call, stored nowhere. Returns the token in use. */
    setAnonymousUserToken(inMemory?: boolean): string | null;
    /** Set the user token: 1 to 129 characters of `[a-zA-Z0-9_=/+-]`, else refused with a
     * warning. Returns the token set, or `null`. */
    setUserToken(userToken: string): string | null;
    /** The current user token; `null` when none or while anonymous. */
    getUserToken(): string | null;
    /** Set (or with `null` clear) the logged-in user's token. */
    setAuthenticatedUserToken(authenticatedUserToken: string | null): string | null;
    /** The authenticated user token; `null` when none or while anonymous. */
    getAuthenticatedUserToken(): string | null;
    /** Call `callback` with the new user token after every change; `immediate: true` also
     * calls it at once. */
    onUserTokenChange(
      callback: (userToken: string | null) => void,
      options?: { immediate?: boolean },
    ): void;

    /** Segment semantics: the anonymousId (uuid4), created and stored when missing, restored
     * from localStorage when the cookie is gone; `null` while anonymous. */
    getAnonymousId(): string | null;
    /** Override and persist the anonymousId. */
    setAnonymousId(anonymousId: string): string | null;
    /** Set the userId and merge traits into the cache (an object alone is the traits); a
     * different userId rotates the anonymousId and replaces the traits. Returns the event's
     * messageId. */
    identify(userId?: string | Traits | null, traits?: Traits | null, options?: EventOptions): string | null;
    /** The current user. */
    user(): User;
    /** The current group. */
    group(): Group;
    /** Set the group (an object alone is the traits); returns the event's messageId. */
    group(groupId: string | Traits | null, traits?: Traits | null, options?: EventOptions): string | null;
    /** Forget userId, traits, group, anonymousId (a new one on next use) and user tokens. */
    reset(): void;

    /** Switch an anonymous mode on (default `true`), optionally moving state to another
     * strategy at the same moment. Identifiers already stored stay until `clearUserData()`. */
    enableAnonymousTracking(config?: {
      options?: AnonymousTrackingOptions | true;
      stateStorageStrategy?: StateStorageStrategy;
    }): void;
    /** Back to full tracking with the identifiers still stored. */
    disableAnonymousTracking(config?: { stateStorageStrategy?: StateStorageStrategy }): void;
    /** Remove every stored identifier (cookies and localStorage) and, unless preserved, the
     * in-memory user and session identifiers too. Events waiting to be sent are kept. */
    clearUserData(config?: { preserveSession?: boolean; preserveUser?: boolean }): void;
    /** The anonymous mode and storage strategy in force. */
    getMode(): Mode;
    /** The current session's id (a new session after `sessionTimeout` idle seconds); `null`
     * when the mode keeps no session. */
    getSessionId(): string | null;
    /** How many sessions this visitor has had, counting the current one. */
    getSessionIndex(): number | null;

    /** Record the visitor's choice in the cookie `_trk_consent` and apply it at once:
     * `granted` = full tracking with the configured strategy; `denied` = server anonymisation
     * with strategy `none`, then `clearUserData()`. A stored choice wins on later loads.
     * `null` forgets the choice (the mode in force stays until the next page load).
     * Returns the choice recorded (`null` for `null` or, after a warning, a bad value). */
    setConsent(consent: Consent | null): Consent | null;
    /** The remembered choice, or `null` when the visitor has not chosen. */
    getConsent(): Consent | null;

    /** Record an event; returns its messageId (it waits in the buffer until the collector
     * acknowledges it). */
    track(event: string, properties?: Properties | null, options?: EventOptions): string | null;
    /** Record a page view, Segment argument order: `page(category?, name?, properties?,
     * options?)`; `page(name)`, `page(name, properties)` and `page(properties)` work too.
     * Returns the event's messageId. */
    page(
      category?: string | Properties | null,
      name?: string | Properties | EventOptions | null,
      properties?: Properties | EventOptions | null,
      options?: EventOptions,
    ): string | null;
    /** The events waiting for the collector, oldest first. */
    getBufferedEvents(): TrackedEvent[];
    /** Send every waiting event now; resolves once the buffer is empty or the collector is
     * unreachable. */
    flush(): Promise<void>;

    /** Start an anonymous session at the collector (`POST /anonymous/token`, the
     * anonymousId as `user_id`); the tokens are kept per strategy and renewed before they
     * expire. */
    startAnonymousSession(options?: { metadata?: SessionMetadata }): Promise<AnonymousSessionTokens | null>;
    /** The anonymous session's access token (a JWT for your APIs), renewed first when it is
     * about to expire; resolves to `null` without a session. */
    getAccessToken(): Promise<string | null>;
    /** Merge `patch` into the session's metadata (`PATCH /anonymous/session`). */
    updateSessionMetadata(patch: SessionMetadata): Promise<AnonymousSessionTokens | null>;
    /** Move the anonymous session, its metadata and events to the logged-in account, with
     * the login proof your backend obtained from the collector (`POST /anonymous/transfer`). */
    transferAnonymousSession(loginProof: string): Promise<unknown>;
  }

  /** Command-form signatures: one per method (overloads merged). */
  type Commands = Omit<Methods, 'group' | 'user'> & {
    user(): User;
    group(groupId?: string | Traits | null, traits?: Traits | null, options?: EventOptions): Group | string | null;
  };

  /** The `data-runtime` attribute of the script tag: `compiled` (the default: the tracker
   * compiled to JavaScript inside `tracker.js`, no WebAssembly), `micropython` or `pyodide`
   * (an interpreter and the Python source, loaded from beside `tracker.js`). */
  type Runtime = 'compiled' | 'micropython' | 'pyodide';

  /** Why the tracker could not start. */
  interface LoadError extends Error {
    name: 'TrackerLoadError';
    /** `http` (e.g. 404), `cors`, `csp` (an interpreter without `'wasm-unsafe-eval'`),
     * `offline`, `network`, `config` (an unknown `data-runtime`), `start` (the tracker threw
     * while starting: a page that broke a builtin, say) or `error`. */
    reason: 'http' | 'cors' | 'csp' | 'offline' | 'network' | 'config' | 'start' | 'error';
    /** The file that failed, when known. */
    file: string | null;
    /** The `data-runtime` that failed (any string the tag gave, when it was unknown). */
    runtime: Runtime | string;
    /** The underlying error. */
    cause: unknown;
  }

  /** The tracker's global (`window.tracker`, or the name given by `data-global`). */
  interface Global extends Methods {
    /** Run a method by name: `tracker('setUserToken', 'user-1')`. Queued until the tracker
     * loads; after that it returns the method's value. */
    <K extends keyof Commands>(
      method: K,
      ...args: Parameters<Commands[K]>
    ): ReturnType<Commands[K]> | undefined;
    /** Call `callback` once the tracker is ready (like analytics.js `ready`). */
    (callback: () => void): void;
    /** Resolves once the runtime runs and the queued calls were replayed (also when the
     * runtime could not load: then `loadError` says why). */
    readonly ready: Promise<void>;
    /** `null`, or why the runtime could not load (one console warning said so too); after a
     * failure calls return `undefined`, callbacks given to them never run, and the calls that
     * return a Promise (`flush`, the anonymous-session calls) resolve it with `undefined`
     * (`flush`) or `null` at once, so nothing awaiting them hangs. */
    readonly loadError: LoadError | null;
    /** The queue of calls made through the stub before the tracker loaded. */
    q?: { push(...calls: ArrayLike<unknown>[]): unknown };
  }
}

/** The tracker (`data-global` renames it; see {@link Tracker.Global}). */
declare var tracker: Tracker.Global;
