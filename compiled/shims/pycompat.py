"""What the lowering step (compiled/lower.py) calls, plus the Python behaviour Transcrypt's
runtime lacks: compiled by Transcrypt only, never imported by Python.

- `add(a, b)`: Python's `+` (lists and tuples concatenate); `mul(a, n)`: repetition;
- `eq(a, b)`: Python's `==` (lists, tuples and dicts by value, sets regardless of order; None equals undefined);
- `fmt(template, args)`: printf-style `%` formatting (`%s %r %d %i %x %f %%`, width, `0`, `-`);
- str.partition/rpartition, strip/lstrip/rstrip with characters, encode/decode (UTF-8);
- a JS error (`TypeError` from a host object, say) counts as a Python `Exception`, so
  `except Exception` catches it as it does on the interpreters.
"""


class ImportError(Exception):
    """A module that is not part of the compiled build."""


class OSError(Exception):
    """A failing host operation (storage blocked, say)."""


class RuntimeError(Exception):
    """An error that fits no other category."""


class UnicodeError(ValueError):
    """Bytes that are not UTF-8."""


__pragma__('js', '{}', '''
export function eq (a, b) {
    if (a === b) return true;
    if (a == null || b == null) return a == null && b == null;
    var ta = typeof a, tb = typeof b;
    if (ta !== 'object' || tb !== 'object') {
        if (ta === 'string' || tb === 'string') return false;
        return a == b;
    }
    if (a.__class__ === set || b.__class__ === set) {
        if (a.__class__ !== b.__class__ || a.length !== b.length) return false;
        for (var k = 0; k < a.length; k++) if (b.indexOf (a [k]) < 0) return false;
        return true;
    }
    if (Array.isArray (a)) {
        if (!Array.isArray (b) || a.length !== b.length) return false;
        for (var i = 0; i < a.length; i++) if (!eq (a [i], b [i])) return false;
        return true;
    }
    if (Array.isArray (b)) return false;
    if (typeof a.__eq__ === 'function' && a.__class__ !== dict) return a.__eq__ (b);
    if (a.__class__ === dict || a.constructor === Object) {
        var ka = Object.keys (a), kb = Object.keys (b);
        if (ka.length !== kb.length) return false;
        for (var j = 0; j < ka.length; j++) {
            if (!Object.prototype.hasOwnProperty.call (b, ka [j]) || !eq (a [ka [j]], b [ka [j]])) return false;
        }
        return true;
    }
    return false;
}

export function add (a, b) {
    if (Array.isArray (a) && Array.isArray (b)) {
        var joined = a.concat (b);
        return a.__class__ === tuple ? tuple (joined) : joined;
    }
    return a + b;
}

export function mul (a, b) {
    if (typeof a === 'number') return mul (b, a);
    if (typeof a === 'string') return b > 0 ? a.repeat (b) : '';
    var out = [];
    for (var i = 0; i < b; i++) for (var j = 0; j < a.length; j++) out.push (a [j]);
    if (a instanceof Uint8Array) return new Uint8Array (out);
    return a.__class__ === tuple ? tuple (out) : out;
}

function pad (text, width, left, zero) {
    var fill = zero && !left ? '0' : ' ';
    if (text.length >= width) return text;
    var padding = fill.repeat (width - text.length);
    if (left) return text + padding;
    if (zero && (text [0] === '-' || text [0] === '+')) return text [0] + padding + text.slice (1);
    return padding + text;
}

export function fmt (template, args) {
    var values = Array.isArray (args) && args.__class__ === tuple ? args : [args];
    var at = 0;
    var out = template.replace (/%([-0]*)(\\d*)(?:\\.(\\d+))?([sridxXf%])/g, function (m, flags, width, precision, kind) {
        if (kind === '%') return '%';
        if (at >= values.length) throw py_TypeError ('not enough arguments for format string');
        var value = values [at++];
        var text;
        if (kind === 's') text = str (value);
        else if (kind === 'r') text = repr (value);
        else if (kind === 'f') text = Number (value).toFixed (precision === undefined ? 6 : +precision);
        else {
            var n = Math.trunc (Number (value));
            if (kind === 'x' || kind === 'X') {
                text = (n < 0 ? '-' : '') + Math.abs (n).toString (16);
                if (kind === 'X') text = text.toUpperCase ();
            }
            else text = String (n);
        }
        return pad (text, width ? +width : 0, flags.indexOf ('-') >= 0, flags.indexOf ('0') >= 0);
    });
    if (at < values.length) throw py_TypeError ('not all arguments converted during string formatting');
    return out;
}

export function utf8 (text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
        var code = text.codePointAt (i);
        if (code > 0xFFFF) i++;
        if (code < 0x80) out.push (code);
        else if (code < 0x800) out.push (0xC0 | code >> 6, 0x80 | code & 63);
        else if (code < 0x10000) out.push (0xE0 | code >> 12, 0x80 | code >> 6 & 63, 0x80 | code & 63);
        else out.push (0xF0 | code >> 18, 0x80 | code >> 12 & 63, 0x80 | code >> 6 & 63, 0x80 | code & 63);
    }
    return out;
}

function trim (text, chars, start, end) {
    if (chars == null) chars = ' \\t\\n\\r\\x0b\\x0c';
    var i = 0, j = text.length;
    if (start) while (i < j && chars.indexOf (text [i]) >= 0) i++;
    if (end) while (j > i && chars.indexOf (text [j - 1]) >= 0) j--;
    return text.slice (i, j);
}

function define (proto, name, fn) {
    Object.defineProperty (proto, name, {value: fn, writable: true, configurable: true, enumerable: false});
}

define (String.prototype, 'partition', function (sep) {
    var at = this.indexOf (sep);
    return at < 0 ? tuple ([String (this), '', '']) : tuple ([this.slice (0, at), sep, this.slice (at + sep.length)]);
});
define (String.prototype, 'rpartition', function (sep) {
    var at = this.lastIndexOf (sep);
    return at < 0 ? tuple (['', '', String (this)]) : tuple ([this.slice (0, at), sep, this.slice (at + sep.length)]);
});
define (String.prototype, 'strip', function (chars) { return trim (String (this), chars, true, true); });
define (String.prototype, 'lstrip', function (chars) { return trim (String (this), chars, true, false); });
define (String.prototype, 'rstrip', function (chars) { return trim (String (this), chars, false, true); });
function count (item) {
    var n = 0;
    for (var i = 0; i < this.length; i++) if (eq (this [i], item)) n++;
    return n;
}
define (Array.prototype, 'count', count);
define (String.prototype, 'count', function (sub) { return sub.length ? String (this).split (sub).length - 1 : this.length + 1; });
define (String.prototype, 'encode', function () { return bytes (utf8 (String (this))); });
define (String.prototype, 'decode', function () { return String (this); });
define (Uint8Array.prototype, 'decode', function () {
    try {
        return new TextDecoder ('utf-8', {fatal: true}).decode (this);
    }
    catch (e) {
        throw ValueError ('not UTF-8');
    }
});
define (Error.prototype, '__class__', Exception);
define (Error.prototype, '__repr__', function () { return (this.name || 'Error') + '(' + repr (String (this.message)) + ')'; });
define (Error.prototype, '__str__', function () { return String (this.message); });
''')
