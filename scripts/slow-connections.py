#!/usr/bin/env python3
"""1,000 slow HTTP clients against `spamsift serve` on 127.0.0.1:PORT: each sends one
byte a second; prints how many the server closed (by its header timeout) and
how /healthz answered meanwhile.  Usage: scripts/slow-connections.py PORT"""
import socket, time, sys, urllib.request
port = int(sys.argv[1])
conns = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    conns.append(s)
t0 = time.time()
lat = []
closed_at = {}
while time.time() - t0 < 25:
    # one byte per second from every connection that is still open
    for i, s in enumerate(conns):
        if i in closed_at:
            continue
        try:
            s.send(b"G")
        except OSError:
            closed_at[i] = time.time() - t0
            continue
        try:
            if s.recv(4096) == b"":
                closed_at[i] = time.time() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed_at[i] = time.time() - t0
    t = time.time()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        lat.append(time.time() - t)
    except Exception as e:
        lat.append(float("inf"))
    time.sleep(1)
print(f"healthz answered {sum(1 for l in lat if l != float('inf'))}/{len(lat)} polls, slowest {max(lat)*1000:.1f} ms")
print(f"closed by the server: {len(closed_at)}/1000, the last after {max(closed_at.values()) if closed_at else 0:.1f} s")
