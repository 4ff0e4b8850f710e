# A ZHTTP stream-mode handler for WebSocket sessions (ws:// uris): it
# accepts with 101 and credits, echoes every message with its content-type,
# granting the credits back as it reads, and answers a close with a close
# that carries the same code. Other requests get 404.
from zhttp_handler import Handler

h = Handler('wsecho')
send = h.send
live = set()  # ids of open sessions

for m in h.packets():
    to, rid, typ = m[b'from'], m[b'id'], m.get(b'type', b'')
    if b'uri' in m:
        live.add(rid)
        if not m[b'uri'].startswith(b'ws'):
            send(to, rid, {b'code': 404, b'reason': b'Not Found', b'body': b'not a websocket\n'})
            continue
        print('open {}'.format(m[b'uri'].decode()), flush=True)
        send(to, rid, {b'code': 101, b'reason': b'Switching Protocols', b'credits': 65536})
    elif rid not in live:
        continue
    elif typ == b'close':
        print('close {}'.format(m.get(b'code', 0)), flush=True)
        send(to, rid, {b'type': b'close', b'code': m.get(b'code', 1000)})
        live.discard(rid)
    elif typ == b'cancel':
        print('cancel', flush=True)
        live.discard(rid)
    elif typ == b'':
        body = m.get(b'body', b'')
        reply = {b'body': body, b'credits': len(body)}
        if m.get(b'content-type') == b'binary':
            reply[b'content-type'] = b'binary'
        if m.get(b'more'):
            reply[b'more'] = True
        send(to, rid, reply)
