"""fcgi_hold.py SOCKET - two FastCGI GET /healthz to the program at the unix
socket SOCKET, the first connection kept open after its answer; prints the
seconds the second answer took and its status line (auth.bats: a worker is
not held until the front server closes)."""
import socket, struct, sys, time

def rec(t, content):
    return struct.pack('>BBHHBx', 1, t, 1, len(content), 0) + content

def nv(n, v):
    return bytes([len(n), len(v)]) + n + v

def ask(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    params = nv(b'REQUEST_METHOD', b'GET') + nv(b'REQUEST_URI', b'/healthz') + \
        nv(b'DOCUMENT_URI', b'/healthz')
    s.sendall(rec(1, struct.pack('>HB5x', 1, 0)) + rec(4, params) + rec(4, b'') + rec(5, b''))
    out = b''
    while True:
        hdr = b''
        while len(hdr) < 8:
            c = s.recv(8 - len(hdr))
            if not c:
                raise SystemExit('closed before END_REQUEST')
            hdr += c
        _, typ, _, clen, plen = struct.unpack('>BBHHB', hdr[:7])
        body = b''
        while len(body) < clen + plen:
            body += s.recv(clen + plen - len(body))
        if typ == 6:
            out += body[:clen]
        if typ == 3:
            return s, out

first, out = ask(sys.argv[1])          # answered; this end stays open
t0 = time.monotonic()
second, out2 = ask(sys.argv[1])        # needs the only worker thread again
dt = time.monotonic() - t0
print('%.3f' % dt, out2.split(b'\r\n')[0].decode())
first.close()
second.close()
