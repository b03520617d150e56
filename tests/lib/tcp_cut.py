"""tcp_cut.py PORT TARGET-PORT [BYTES] - a TCP relay on 127.0.0.1:PORT to
127.0.0.1:TARGET-PORT whose connections can be cut like a failing network
(events.bats: NATS connections dropped under the outbox relay).

A cut resets every connection open: both of its sockets are reset
(SO_LINGER 0, so the peers get an RST), and what either side sent that has
not gone through yet is lost, as when ss -K destroys a socket. New
connections are taken as before.

SIGUSR1 cuts now. SIGUSR2 asks for a cut once the clients have sent BYTES
(default 65536) more, in the middle of what they are sending: the piece read
that crosses the mark is dropped too. SIGHUP takes back a cut asked for that
has not come. SIGTERM or SIGINT stops it (exit 0). It prints one line when
it listens, and one a cut ("cut N connections")."""
import asyncio, signal, socket, struct, sys

LINGER_0 = struct.pack('ii', 1, 0)


class Pair:
    def __init__(self, a, b):
        self.ends = (a, b)

    def cut(self):
        for w in self.ends:
            sock = w.get_extra_info('socket')
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
                except OSError:
                    pass
            w.transport.abort()


async def pump(reader, writer, seen=None):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if seen is not None and seen(len(data)):
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


async def main(port, target, mark):
    pairs = set()
    stop = asyncio.Event()
    armed = [None]   # bytes the clients may still send before the cut

    def client_sent(n):
        """True when the armed cut came (and was made)."""
        if armed[0] is None:
            return False
        armed[0] -= n
        if armed[0] > 0:
            return False
        armed[0] = None
        cut()
        return True

    def arm():
        armed[0] = mark

    def disarm():
        armed[0] = None

    async def serve(cr, cw):
        try:
            sr, sw = await asyncio.open_connection('127.0.0.1', target)
        except OSError:
            cw.transport.abort()
            return
        pair = Pair(cw, sw)
        pairs.add(pair)
        try:
            await asyncio.gather(pump(cr, sw, client_sent), pump(sr, cw))
        finally:
            pairs.discard(pair)

    def cut():
        armed[0] = None
        n = len(pairs)
        for pair in list(pairs):
            pair.cut()
        print(f'cut {n} connections', flush=True)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, arm)
    loop.add_signal_handler(signal.SIGHUP, disarm)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(serve, '127.0.0.1', port, reuse_address=True)
    print(f'listening on 127.0.0.1:{port}, to 127.0.0.1:{target}', flush=True)
    await stop.wait()
    server.close()
    for pair in list(pairs):
        pair.cut()


if __name__ == '__main__':
    if len(sys.argv) not in (3, 4) or not all(a.isdigit() for a in sys.argv[1:]):
        sys.exit('usage: tcp_cut.py PORT TARGET-PORT [BYTES]')
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]),
                     int(sys.argv[3]) if len(sys.argv) == 4 else 65536))
