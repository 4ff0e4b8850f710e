# Publishes what a broken or hostile handler might to the gateway's SUB:
# each argument is sent as one message, after "<instance id> " unless it
# starts with "raw:"; "flood:N:" before it sends it N times. Used by the
# tests of bad packets.
import os
import sys
import zmq

ctx = zmq.Context()
# XPUB: a PUB that also reads subscriptions; wait for the gateway's.
out_sock = ctx.socket(zmq.XPUB)
out_sock.connect('ipc://client-in')
out_sock.recv()
for arg in sys.argv[1:]:
    data, times = os.fsencode(arg), 1
    if data.startswith(b'flood:'):  # flood:N:MESSAGE sends MESSAGE N times
        _, n, data = data.split(b':', 2)
        times = int(n)
    if data.startswith(b'raw:'):
        data = data[4:]
    else:
        data = b'nanogate ' + data
    for _ in range(times):
        out_sock.send(data)
out_sock.close(linger=5000)  # sends what is queued first
ctx.term()
print('sent', flush=True)
