"""Recording the identifiers a page hands to the tracker (``identify``, ``setUserToken``,
``setAnonymousId``, ``group``, identity ``init`` options, identifying traits), so the
assertions can look for them in what was sent even when the tracker rightly kept them out of
its events: a page that copies its own login id into a property leaks it all the same.

A script run before the page's own wraps the global (stub, then loader) in a transparent
``Proxy`` that notes those arguments in ``window.__trackerQaGiven``.
"""

from __future__ import annotations

import json

from playwright.sync_api import BrowserContext

__all__ = ["GIVEN_KEY", "record_calls"]

GIVEN_KEY = "__trackerQaGiven"
"""Where the page's notes live: a list of ``[how, value]`` pairs."""

_RECORDER_JS = """
(([names, KEY]) => {
  if (window[KEY]) return;  /* installed once per page */
  const given = (window[KEY] = []);
  const note = (how, value) => {
    if (typeof value === 'string' && value) given.push([how, value]);
  };
  const IDENTIFYING = /mail|name|phone|user|login|id$/i;
  const traits = (how, value) => {
    if (!value || typeof value !== 'object') return;
    for (const key of Object.keys(value)) {
      if (IDENTIFYING.test(key)) note(how + ' trait ' + key, value[key]);
    }
  };
  const options = (how, value) => {
    if (value && typeof value === 'object') note(how + ' options.anonymousId', value.anonymousId);
  };
  const record = (method, a) => {
    try {
      if (method === 'identify') {
        if (typeof a[0] === 'string') note('the userId passed to identify()', a[0]);
        traits('identify()', typeof a[0] === 'object' ? a[0] : a[1]);
        options('identify()', a[2]);
      } else if (method === 'group') {
        if (typeof a[0] === 'string') note('the groupId passed to group()', a[0]);
      } else if (method === 'setUserToken') {
        note('the token passed to setUserToken()', a[0]);
      } else if (method === 'setAuthenticatedUserToken') {
        note('the token passed to setAuthenticatedUserToken()', a[0]);
      } else if (method === 'setAnonymousId') {
        note('the id passed to setAnonymousId()', a[0]);
      } else if (method === 'init' && a[0] && typeof a[0] === 'object') {
        note('the userToken given to init()', a[0].userToken);
        note('the authenticatedUserToken given to init()', a[0].authenticatedUserToken);
        note('the anonymousId given to init()', a[0].anonymousId);
      } else if (method === 'track' || method === 'page') {
        options(method + '()', a[a.length - 1]);
      } else if (method === 'user.id') {
        note('the userId passed to user().id()', a[0]);
      } else if (method === 'user.anonymousId') {
        note('the id passed to user().anonymousId()', a[0]);
      } else if (method === 'user.traits') {
        traits('user().traits()', a[0]);
      }
    } catch (e) { /* recording must never break the page */ }
  };
  const accessor = (result, prefix) => {
    if (!result || typeof result !== 'object') return result;
    for (const m of ['id', 'anonymousId', 'traits']) {
      const f = result[m];
      if (typeof f === 'function') {
        result[m] = function () {
          record(prefix + '.' + m, Array.prototype.slice.call(arguments));
          return f.apply(this, arguments);
        };
      }
    }
    return result;
  };
  const wrap = fn => {
    if (typeof fn !== 'function') return fn;
    const methods = new Map();
    return new Proxy(fn, {
      apply(target, self, args) {
        if (typeof args[0] === 'string') record(args[0], args.slice(1));
        const out = Reflect.apply(target, self, args);
        return args[0] === 'user' ? accessor(out, 'user') : out;
      },
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, target);
        if (typeof prop !== 'string' || typeof value !== 'function' || prop === 'ready' ||
            value === Function.prototype[prop]) {
          return value;  /* apply/call/bind go through the apply trap */
        }
        if (!methods.has(value)) {
          methods.set(value, function () {
            const args = Array.prototype.slice.call(arguments);
            record(prop, args);
            const out = value.apply(this === receiver ? target : this, args);
            return prop === 'user' ? accessor(out, 'user') : out;
          });
        }
        return methods.get(value);
      },
    });
  };
  for (const name of names) {
    let current = wrap(window[name]);
    Object.defineProperty(window, name, {
      configurable: true,
      enumerable: true,
      get() { return current; },
      set(value) { current = wrap(value); },
    });
  }
})(%s);
"""


def record_calls(context: BrowserContext, global_name: str = "tracker") -> None:
    """From the next page load on, note the identifiers pages pass to ``global_name``."""
    context.add_init_script(_RECORDER_JS % json.dumps([[global_name], GIVEN_KEY]))
