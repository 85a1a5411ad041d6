#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# For bench/h2load.sh IDLE=N: opens N h2c connections to a proxy, asks each for one response (raw frames,
# prior knowledge), reads it to its end, then keeps every connection open for HOLD seconds.
#   bench/h2idle.py PORT N PATH AUTHORITY [HOLD]
import socket, struct, sys, time
port, n, path, authority = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4].encode()
def frame(t, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([t, flags]) + struct.pack('>I', stream) + payload
def lit(idx, value):  # literal without indexing, indexed name (4-bit prefix; idx < 15)
    return bytes([idx]) + bytes([len(value)]) + value
block = b'\x82\x86' + lit(4, path) + lit(1, authority)
settings = frame(4, 0, 0, struct.pack('>HI', 4, 1 << 20))
conns = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + settings + frame(8, 0, 0, struct.pack('>I', 1 << 20)) +
              frame(1, 0x5, 1, block))
    conns.append(s)
total = 0
for s in conns:
    s.settimeout(5)
    got = b''
    while True:
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            break
        if not d:
            break
        got += d
        # stop at a DATA or HEADERS frame on stream 1 with END_STREAM
        p, done = 0, False
        while len(got) - p >= 9:
            ln = int.from_bytes(got[p:p+3], 'big'); t = got[p+3]; fl = got[p+4]; sid = int.from_bytes(got[p+5:p+9], 'big') & 0x7fffffff
            if len(got) - p - 9 < ln: break
            if sid == 1 and t in (0, 1) and fl & 1: done = True
            p += 9 + ln
        if done: break
    total += len(got)
print('received', total, 'bytes on', n, 'connections', flush=True)
time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 8)
