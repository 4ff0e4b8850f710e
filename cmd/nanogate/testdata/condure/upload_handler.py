# A ZHTTP stream-mode handler that reads a streamed request body within
# the credits it grants (spec 33: the responder offers credits for the
# request body, 0 at first), then answers with the body's length and a
# checksum. A packet past its credits fails the upload.
import hashlib
import sys
from zhttp_handler import Handler

window = int(sys.argv[1])
h = Handler('uploadhandler')
req = h.request()
to, rid = req[b'from'], req[b'id']
in_seq = 1
digest = hashlib.sha256(req.get(b'body', b''))
total = len(req.get(b'body', b''))
more = req.get(b'more', False)
granted = window
overrun = False


def send(msg):
    h.send(to, rid, msg)


# Credits may come with any packet; a credit packet before the response.
send({b'type': b'credit', b'credits': window})
while more:
    m = h.packet()
    if m.get(b'seq') != in_seq:
        print('bad seq {} want {}'.format(m.get(b'seq'), in_seq), flush=True)
    in_seq += 1
    if m.get(b'type'):
        continue  # keep-alive, credit
    body = m.get(b'body', b'')
    granted -= len(body)
    if granted < 0:
        overrun = True
    digest.update(body)
    total += len(body)
    more = m.get(b'more', False)
    if body:
        send({b'type': b'credit', b'credits': len(body)})
        granted += len(body)
answer = '{} {} {}\n'.format(total, digest.hexdigest(), 'overrun' if overrun else 'within-credits').encode()
send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'text/plain']], b'body': answer})
print('done', flush=True)
