# Publishes what a broken or hostile handler might to the gateway's SUB:
# each argument is sent as one message, after "<instance id> " unless it
# starts with "raw:". Used by the test of bad packets.
import os
import sys
import zmq

ctx = zmq.Context()
# XPUB: a PUB that also reads subscriptions; wait for the gateway's.
out_sock = ctx.socket(zmq.XPUB)
out_sock.connect('ipc://client-in')
out_sock.recv()
for arg in sys.argv[1:]:
    data = os.fsencode(arg)
    if data.startswith(b'raw:'):
        out_sock.send(data[4:])
    else:
        out_sock.send(b'nanogate ' + data)
out_sock.close(linger=5000)  # sends what is queued first
ctx.term()
print('sent', flush=True)
