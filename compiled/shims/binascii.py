"""`binascii.unhexlify` for the compiled build: a hex string to a list of byte values
(what `bytearray` and iteration take). Compiled by Transcrypt only."""

__pragma__('js', '{}', '''
export function unhexlify (text) {
    var out = [];
    for (var i = 0; i + 1 < text.length; i += 2) out.push (parseInt (text.slice (i, i + 2), 16));
    return out;
}
''')
