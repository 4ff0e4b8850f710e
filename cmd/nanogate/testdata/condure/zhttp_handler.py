# What the ZHTTP stream-mode test handlers share (spec 33): the three
# sockets of a stream-mode handler, the reading of packets and the sending
# of sequenced ones.
#   PULL on client-out           first packets of requests
#   ROUTER on client-out-stream  the gateway's later packets to us; its
#                                identity is our "from"
#   PUB on client-in             our packets, "<gateway> T<tnetstring>"
import os
import tnetstring
import zmq


class Handler:
    # ready: use an XPUB, which reads subscriptions, to wait until the
    # gateway subscribes, then print "ready" (tests wait for that line
    # instead of sleeping). sndhwm: the PUB's high-water mark, if set.
    def __init__(self, name, ready=True, sndhwm=None):
        self.me = '{}.{}'.format(name, os.getpid()).encode()
        ctx = zmq.Context()
        self.first = ctx.socket(zmq.PULL)
        self.first.connect('ipc://client-out')
        self.later = ctx.socket(zmq.ROUTER)
        self.later.identity = self.me
        self.later.connect('ipc://client-out-stream')
        self.out = ctx.socket(zmq.XPUB if ready else zmq.PUB)
        if sndhwm is not None:
            self.out.sndhwm = sndhwm
        self.out.connect('ipc://client-in')
        if ready:
            self.out.recv()
            print('ready', flush=True)
        self.seqs = {}  # (gateway, id) -> our next seq on that id
        self.poller = zmq.Poller()
        self.poller.register(self.first, zmq.POLLIN)
        self.poller.register(self.later, zmq.POLLIN)

    def request(self):
        # The next first packet of a request.
        return tnetstring.loads(self.first.recv()[1:])

    def packet(self):
        # The gateway's next packet to us: [gateway identity, empty, packet].
        return tnetstring.loads(self.later.recv_multipart()[-1][1:])

    def packets(self):
        # Every packet, first or later, as it comes.
        while True:
            for sock, _ in self.poller.poll():
                msg = sock.recv() if sock is self.first else sock.recv_multipart()[-1]
                yield tnetstring.loads(msg[1:])

    def send_raw(self, gateway, fields):
        # Sends fields as they are, but for our "from".
        fields[b'from'] = self.me
        self.out.send(gateway + b' T' + tnetstring.dumps(fields))

    def send(self, gateway, rid, fields):
        # Sends fields on id rid, sequenced from 0 on that id.
        seq = self.seqs.get((gateway, rid), 0)
        self.seqs[(gateway, rid)] = seq + 1
        fields.update({b'id': rid, b'seq': seq})
        self.send_raw(gateway, fields)
