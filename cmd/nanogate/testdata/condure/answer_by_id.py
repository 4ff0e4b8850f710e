# answer_by_id.py BODY GATEWAY ID: the other half of ids_printer.py. A
# process that never saw the request answers it, knowing only the
# gateway's id and the request's id: one packet on a PUB connected to
# BASE-in, "<gateway> T{from, id, code, reason, headers, body}", then exit.
import sys
import tnetstring
import zmq
from zmq.utils.monitor import recv_monitor_message

body, gateway, rid = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3].encode()
ctx = zmq.Context()
out_sock = ctx.socket(zmq.PUB)
# A PUB with no peer drops what it sends: wait for the connection to the
# gateway (an event, not a sleep). The gateway's subscription can still be
# in flight, so the test runs this again until the client has its answer.
mon = out_sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
out_sock.connect('ipc://client-in')
recv_monitor_message(mon)
answer = {
    b'from': b'answer-by-id',
    b'id': rid,
    b'code': 200,
    b'reason': b'OK',
    b'headers': [[b'Content-Type', b'text/plain']],
    b'body': body + b'\n',
}
out_sock.send(gateway + b' T' + tnetstring.dumps(answer))
mon.close()  # the context's term waits for every socket, this one too
out_sock.close(linger=1000)  # let the packet leave before the process does
ctx.term()
