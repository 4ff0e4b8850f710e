# Half of a pair that shows ZHTTP's decoupling: this process takes the
# first packet of each request (PULL on BASE-out) and only prints
# "<from> <id>"; answer_by_id.py, another process, answers it.
import tnetstring
import zmq

ctx = zmq.Context()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')
while True:
    req = tnetstring.loads(in_sock.recv()[1:])
    print('{} {}'.format(req[b'from'].decode(), req[b'id'].decode()), flush=True)
