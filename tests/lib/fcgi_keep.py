"""fcgi_keep.py SOCKET CONNS ROUNDS [HOLD] - CONNS FastCGI connections to the program
at the unix socket SOCKET, each asking it to keep the connection open
(FCGI_KEEP_CONN, as nginx's fastcgi_keep_conn does); then ROUNDS rounds of one
GET /healthz on every connection in turn, all connections staying open
between requests. Prints one line per answer, "CONN ROUND STATUS-LINE", and
"closed CONN ROUND" when the program closed a kept connection; then keeps
the connections open HOLD seconds (0) before closing them (auth.bats: a
program serves more kept connections than it has worker threads)."""
import socket, struct, sys, time

def rec(t, content):
    return struct.pack('>BBHHBx', 1, t, 1, len(content), 0) + content

def nv(n, v):
    return bytes([len(n), len(v)]) + n + v

def ask(s):
    params = nv(b'REQUEST_METHOD', b'GET') + nv(b'REQUEST_URI', b'/healthz') + \
        nv(b'DOCUMENT_URI', b'/healthz')
    # role 1 (responder), flags 1 (FCGI_KEEP_CONN)
    s.sendall(rec(1, struct.pack('>HB5x', 1, 1)) + rec(4, params) + rec(4, b'') + rec(5, b''))
    out = b''
    while True:
        hdr = b''
        while len(hdr) < 8:
            c = s.recv(8 - len(hdr))
            if not c:
                return None
            hdr += c
        _, typ, _, clen, plen = struct.unpack('>BBHHB', hdr[:7])
        body = b''
        while len(body) < clen + plen:
            c = s.recv(clen + plen - len(body))
            if not c:
                return None
            body += c
        if typ == 6:
            out += body[:clen]
        if typ == 3:
            return out.split(b'\r\n')[0].decode()

path, conns, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0
socks = []
for _ in range(conns):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    socks.append(s)
for r in range(rounds):
    for i, s in enumerate(socks):
        try:
            line = ask(s)
        except socket.timeout:
            line = 'timeout'
        print('closed %d %d' % (i, r) if line is None else '%d %d %s' % (i, r, line),
              flush=True)
time.sleep(hold)
for s in socks:
    s.close()
