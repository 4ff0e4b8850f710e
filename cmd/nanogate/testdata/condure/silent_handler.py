# A ZHTTP handler that takes a request and never answers: the test kills
# it and expects the client to get 502 once the session timeout passes.
import tnetstring
import zmq

ctx = zmq.Context()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')
while True:
    req = tnetstring.loads(in_sock.recv()[1:])
    print('took {}'.format(req[b'id'].decode()), flush=True)
