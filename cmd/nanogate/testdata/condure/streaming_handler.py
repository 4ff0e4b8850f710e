# nanogate's streaming handler (ZHTTP stream mode, spec 33; the sockets are
# zhttp_handler.py's). Every packet we send is sequenced from 0 on its id.
#   http:// request: a head with "more" (the body is to follow, so the
#     client gets it chunked), then the last body packet.
#   ws:// request: accept with 101 and credits, one message, then close.
# Packets with a type (keep-alive, credit, cancel, ...) are only printed.
from zhttp_handler import Handler

h = Handler('streaming', ready=False)
for req in h.packets():
    print('IN {}'.format(req), flush=True)
    if b'type' in req:
        continue
    to, rid = req[b'from'], req[b'id']
    if req.get(b'uri', b'').startswith((b'ws://', b'wss://')):
        h.send(to, rid, {b'code': 101, b'reason': b'Switching Protocols', b'credits': 65536})
        h.send(to, rid, {b'body': b'hello world'})  # one text message
        h.send(to, rid, {b'type': b'close'})
    else:
        h.send(to, rid, {b'code': 200, b'reason': b'OK', b'credits': 65536,
                         b'headers': [[b'Content-Type', b'text/plain']], b'more': True})
        h.send(to, rid, {b'body': b'hello world\n'})  # no "more": the end
