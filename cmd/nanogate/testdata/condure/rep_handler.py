# nanogate's REQ-mode handler (Condure's --listen PORT,req): a plain REP
# socket connected to the gateway's DEALER. One packet brings the whole
# request, body included; one packet answers it (no from, no seq: the REP
# envelope routes it back).
import tnetstring
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.REP)
sock.connect('ipc://client')
while True:
    req = tnetstring.loads(sock.recv()[1:])  # after the 'T'
    print('IN {}'.format(req), flush=True)
    sock.send(b'T' + tnetstring.dumps({
        b'id': req[b'id'],
        b'code': 200,
        b'reason': b'OK',
        b'headers': [[b'Content-Type', b'text/plain']],
        b'body': b'hello world\n',
    }))
