# A tiny tnetstring module, nanogate's own, for the ZHTTP handlers in this
# directory: loads and dumps, the API of the PyPI "tnetstring" package that
# Condure-style handlers import. Debian has no package for it, so the tests
# put this directory on PYTHONPATH. Strings and dictionary keys are bytes.


def dumps(value):
    if value is None:
        return b'0:~'
    if isinstance(value, bool):  # before int: bool is an int in Python
        data, tag = (b'true' if value else b'false'), b'!'
    elif isinstance(value, int):
        data, tag = str(value).encode(), b'#'
    elif isinstance(value, float):
        data, tag = repr(value).encode(), b'^'
    elif isinstance(value, (bytes, bytearray)):
        data, tag = bytes(value), b','
    elif isinstance(value, str):
        data, tag = value.encode('utf-8'), b','
    elif isinstance(value, dict):
        data = b''.join(dumps(k) + dumps(v) for k, v in value.items())
        tag = b'}'
    elif isinstance(value, (list, tuple)):
        data, tag = b''.join(dumps(v) for v in value), b']'
    else:
        raise ValueError('cannot encode %r' % type(value))
    return str(len(data)).encode() + b':' + data + tag


def pop(data):
    """Parse the value at the start of data; return (value, rest)."""
    colon = data.index(b':')
    if colon == 0 or colon > 9:
        raise ValueError('bad length prefix')
    length = int(data[:colon])
    end = colon + 1 + length
    if end >= len(data):
        raise ValueError('truncated tnetstring')
    payload, tag, rest = data[colon + 1:end], data[end:end + 1], data[end + 1:]
    if tag == b',':
        return payload, rest
    if tag == b'#':
        return int(payload), rest
    if tag == b'^':
        return float(payload), rest
    if tag == b'!':
        if payload not in (b'true', b'false'):
            raise ValueError('bad boolean')
        return payload == b'true', rest
    if tag == b'~':
        if payload:
            raise ValueError('null with data')
        return None, rest
    if tag == b']':
        out = []
        while payload:
            item, payload = pop(payload)
            out.append(item)
        return out, rest
    if tag == b'}':
        out = {}
        while payload:
            key, payload = pop(payload)
            if not isinstance(key, bytes):
                raise ValueError('dictionary key is not a string')
            if not payload:
                raise ValueError('dictionary key without a value')
            out[key], payload = pop(payload)
        return out, rest
    raise ValueError('unknown type tag %r' % tag)


def loads(data):
    value, rest = pop(bytes(data))
    if rest:
        raise ValueError('bytes after the value')
    return value
