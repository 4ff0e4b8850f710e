# nanogate's hold handler (ZHTTP stream mode, spec 33): every request gets
# a head with "more" and is then held open until the gateway sends cancel.
# Each keep-alive the gateway sends (one packet for many ids: "id" is a
# list of {id, seq}) is answered by one packet for all the ids it names
# that we hold, carrying an event line: that write to each client is how
# the gateway notices a client that left. Sockets: zhttp_handler.py's.
import time
from zhttp_handler import Handler

h = Handler('waitcancel', ready=False)
held = {}  # (gateway, id) -> our next seq on that id


def ids_of(pkt):
    if isinstance(pkt[b'id'], list):
        return [x[b'id'] for x in pkt[b'id']]
    return [pkt[b'id']]


def send(gateway, ids, fields):
    targets = []
    for rid in ids:
        targets.append({b'id': rid, b'seq': held[(gateway, rid)]})
        held[(gateway, rid)] += 1
    fields[b'id'] = targets
    h.send_raw(gateway, fields)


for pkt in h.packets():
    print('IN {}'.format(pkt), flush=True)
    gateway, kind = pkt[b'from'], pkt.get(b'type')
    ours = [rid for rid in ids_of(pkt) if (gateway, rid) in held]
    if kind is None and not ours:  # a new request: the head, then hold
        rid = pkt[b'id']
        held[(gateway, rid)] = 0
        send(gateway, [rid], {b'code': 200, b'reason': b'OK', b'more': True,
                              b'headers': [[b'Content-Type', b'text/event-stream']]})
    elif kind == b'keep-alive' and ours:
        event = 'data: held {}\n\n'.format(int(time.time())).encode()
        send(gateway, ours, {b'body': event, b'more': True})
    elif kind == b'cancel':
        for rid in ours:
            del held[(gateway, rid)]
            print('cancelled {}'.format(rid.decode()), flush=True)
