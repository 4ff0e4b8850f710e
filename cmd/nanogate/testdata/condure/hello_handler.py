# nanogate's hello handler, written the way Condure's basic example is
# used (ZHTTP stream mode, rfc.zeromq.org spec 33): the first packet of
# each request arrives on a PULL connected to BASE-out; the answer leaves
# on a PUB connected to BASE-in as "<gateway id> T<tnetstring>". One packet
# without "more" is the whole response, so no seq is needed.
import os
import tnetstring
import zmq
from zmq.utils.monitor import recv_monitor_message

me = 'hello.{}'.format(os.getpid()).encode()
ctx = zmq.Context()
out_sock = ctx.socket(zmq.PUB)
# A PUB drops what it sends while it has no peer: wait until the
# connection to the gateway's SUB is up before taking requests (an event,
# not a sleep). The subscription itself may still be in flight; the
# tests retry a request whose answer was lost that way.
mon = out_sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
out_sock.connect('ipc://client-in')
recv_monitor_message(mon)
out_sock.disable_monitor()
mon.close()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')

while True:
    msg = in_sock.recv()
    req = tnetstring.loads(msg[1:])  # after the 'T'
    print('IN {}'.format(req), flush=True)
    answer = {
        b'from': me,
        b'id': req[b'id'],
        b'code': 200,
        b'reason': b'OK',
        b'headers': [[b'Content-Type', b'text/plain']],
        b'body': b'hello world\n',
    }
    # The prefix is the gateway's id (its "from"): its SUB subscribes to it.
    out_sock.send(req[b'from'] + b' T' + tnetstring.dumps(answer))
