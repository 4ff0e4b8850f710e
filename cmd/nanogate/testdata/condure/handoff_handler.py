# Condure's first use case, "pass connection ownership from one process to
# another" (README: Suspending and resuming connections), in two roles:
#
#   handoff_handler.py start   takes a request, answers its head and a first
#                              piece, sends handoff-start, waits for
#                              handoff-proceed, prints "handoff FROM ID SEQ IN_SEQ"
#                              (what the next owner needs) and exits
#   handoff_handler.py resume FROM ID SEQ IN_SEQ
#                              a process that never saw the request resumes it
#                              from its own address: a piece, then, once the
#                              gateway's next packet reached it, the end
import os
import sys
import tnetstring
import zmq

role = sys.argv[1]
instance_id = 'handoff-{}.{}'.format(role, os.getpid()).encode()
ctx = zmq.Context()
in_stream = ctx.socket(zmq.ROUTER)
in_stream.identity = instance_id
in_stream.connect('ipc://client-out-stream')
out_sock = ctx.socket(zmq.XPUB)  # reads subscriptions: wait for the gateway's
out_sock.connect('ipc://client-in')
out_sock.recv()


def send(to, rid, seq, msg):
    msg[b'from'] = instance_id
    msg[b'id'] = rid
    msg[b'seq'] = seq
    out_sock.send(to + b' T' + tnetstring.dumps(msg))


if role == 'start':
    in_sock = ctx.socket(zmq.PULL)
    in_sock.connect('ipc://client-out')
    print('ready', flush=True)
    req = tnetstring.loads(in_sock.recv()[1:])
    to, rid = req[b'from'], req[b'id']
    send(to, rid, 0, {b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'text/plain']],
                      b'body': b'first part from the process that took the request\n', b'more': True})
    send(to, rid, 1, {b'type': b'handoff-start'})
    in_seq = 1
    while True:
        m = tnetstring.loads(in_stream.recv_multipart()[2][1:])
        in_seq = m[b'seq'] + 1
        if m.get(b'type') == b'handoff-proceed':
            break
    print('handoff {} {} {} {}'.format(to.decode(), rid.decode(), 2, in_seq), flush=True)
else:
    to, rid, seq, in_seq = sys.argv[2].encode(), sys.argv[3].encode(), int(sys.argv[4]), int(sys.argv[5])
    send(to, rid, seq, {b'body': b'second part from a process that never saw it\n', b'more': True})
    # The gateway learnt this process's address from that packet: its next
    # packet (a keep-alive) comes here, in sequence.
    m = tnetstring.loads(in_stream.recv_multipart()[2][1:])
    print('got {} seq {} want {}'.format(m.get(b'type', b'data').decode(), m.get(b'seq'), in_seq), flush=True)
    send(to, rid, seq + 1, {b'body': b'end\n'})
    out_sock.close(linger=5000)  # sends what is queued first
    ctx.term()
    print('resumed', flush=True)
