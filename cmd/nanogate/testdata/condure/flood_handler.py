# A ZHTTP handler that ignores credits: it answers a request with a head
# and then N bytes of body as fast as it can, whatever the gateway grants,
# and prints "cancelled" when the gateway gives up on the request. The
# test's client does not read, so the gateway must cut the stream rather
# than hold the flood.
import sys
from zhttp_handler import Handler

total = int(sys.argv[1])
h = Handler('flood', sndhwm=0)  # no limit here: the flood must reach the gateway
req = h.request()
to, rid = req[b'from'], req[b'id']


def send(msg):
    h.send(to, rid, msg)


send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'application/octet-stream']], b'more': True})
piece = b'x' * 65536
for _ in range(total // len(piece)):
    send({b'body': piece, b'more': True})
print('flooded', flush=True)
while True:
    m = h.packet()
    if m.get(b'type') == b'cancel':
        print('cancelled', flush=True)
        break
