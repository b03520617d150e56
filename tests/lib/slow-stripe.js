// slow-stripe.js - test-only: an HTTP proxy in front of the Stripe emulator
// that answers each request after a delay, as the real Stripe API often
// takes a second or two. The emulator answers in under a millisecond, which
// hides races between concurrent payments; with this in between they show.
//
//   PORT=N TARGET=http://127.0.0.1:M node tests/lib/slow-stripe.js
//   curl -X PUT http://127.0.0.1:N/__latency/1500   # from now on, 1.5 s each
//
// Every other request is forwarded as it is (method, path, headers, body).
'use strict';
const http = require('http');

const port = Number(process.env.PORT);
const target = new URL(process.env.TARGET || '');
let latency = Number(process.env.LATENCY_MS || 0);

const server = http.createServer((req, res) => {
	const set = /^\/__latency\/(\d{1,6})$/.exec(req.url);
	if (req.method === 'PUT' && set) {
		latency = Number(set[1]);
		res.writeHead(204).end();
		return;
	}
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => setTimeout(() => {
		const up = http.request({
			host: target.hostname, port: target.port, method: req.method,
			path: req.url, headers: req.headers,
		}, (r) => {
			res.writeHead(r.statusCode, r.headers);
			r.pipe(res);
		});
		up.on('error', () => res.writeHead(502).end());
		up.end(Buffer.concat(chunks));
	}, latency));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
