# Writes nanogate's golden ZHTTP packets (the *.tnet files here and in
# ../../tnetstring/testdata): packets built from the fields spec 33 gives
# each one, encoded by nanogate's own tnetstring module (Python keeps a
# dictionary's insertion order, so the bytes are stable). Run from
# protocol/:
#   PYTHONPATH=../cmd/nanogate/testdata/condure /usr/bin/python3 \
#     zhttp/testdata/packets.py zhttp/testdata tnetstring/testdata
# TestGoldenFromScript (packet_test.go) checks the files are its output.
import os
import sys
import tnetstring

PACKETS = {
    # The first packet of a stream-mode request, gateway to handler.
    'stream-request.tnet': {
        b'from': b'gw', b'id': b'7', b'seq': 0, b'ext': {b'multi': True},
        b'method': b'GET', b'uri': b'http://gw.test/items?page=2',
        b'headers': [[b'Host', b'gw.test']],
        b'credits': 4096, b'stream': True,
    },
    # A REQ-mode request: one packet, body included, no from or seq.
    'req-request.tnet': {
        b'id': b'r1', b'ext': {b'multi': True},
        b'method': b'POST', b'uri': b'http://gw.test/form',
        b'headers': [[b'Host', b'gw.test'], [b'Content-Type', b'application/x-www-form-urlencoded']],
        b'body': b'a=1&b=2',
    },
    # Its answer: the whole response in one packet.
    'req-response.tnet': {
        b'id': b'r1', b'code': 200, b'reason': b'OK',
        b'headers': [[b'Content-Type', b'text/plain']],
        b'body': b'stored\n',
    },
}

for d in sys.argv[1:]:
    for name, pkt in PACKETS.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(b'T' + tnetstring.dumps(pkt))
