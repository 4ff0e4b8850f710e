# A ZHTTP stream-mode handler that answers with a large body sent only
# within the credits the gateway grants (spec 33: the initiator offers
# credits in its first packet and in credit packets as it writes to the
# client). It prints what it saw so the test can check the flow.
import sys
from zhttp_handler import Handler

size = int(sys.argv[1])
h = Handler('credithandler')
req = h.request()
to, rid = req[b'from'], req[b'id']
credits = req.get(b'credits', 0)
grants = 0


def send(msg):
    h.send(to, rid, msg)


send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'application/octet-stream']], b'more': True})
sent = 0
while sent < size:
    while credits == 0:
        m = h.packet()
        if m.get(b'type') == b'credit':
            credits += m[b'credits']
            grants += 1
        elif m.get(b'type') == b'cancel':
            print('cancelled', flush=True)
            sys.exit(1)
    n = min(credits, size - sent, 65536)
    body = bytes((sent + i) % 251 for i in range(n))
    credits -= n
    sent += n
    send({b'body': body, b'more': sent < size})
print('sent {} grants {}'.format(sent, grants), flush=True)
