"""`json` for the compiled build: JSON.parse with real dicts for JS objects, JSON.stringify.
Compiled by Transcrypt only. Bad text raises ValueError, as Python's json does."""

__pragma__('js', '{}', '''
function revive (key, value) {
    return value !== null && typeof value === 'object' && !Array.isArray (value) ? dict (value) : value;
}

export function loads (text) {
    try {
        return JSON.parse (text, revive);
    }
    catch (e) {
        throw ValueError ('not JSON: ' + e.message);
    }
}

function plain (key, value) {
    if (typeof value === 'number' && !isFinite (value)) throw ValueError ('out of range float values are not JSON compliant');
    if (typeof value === 'function' || (value !== null && typeof value === 'object' && !Array.isArray (value) && value.__class__ !== dict && value.constructor !== Object)) {
        throw py_TypeError ('Object of type ' + (value.__class__ ? value.__class__.__name__ : typeof value) + ' is not JSON serializable');
    }
    return value;
}

export function dumps (value) {
    return value === undefined ? 'null' : JSON.stringify (value, plain);
}
''')
