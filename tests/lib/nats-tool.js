#!/usr/bin/env node
// nats-tool.js - publish test events to the store's JetStream stream and read
// it back, for the bats tests (the real storectl comes later).
//
// Usage: nats-tool.js publish SUBJECT PAYLOAD [--id MSGID] [--header K:V]...
//          JetStream publish of PAYLOAD (sent as is, JSON or not) with
//          Nats-Msg-Id MSGID when given; prints {"seq":N,"duplicate":BOOL}.
//          PAYLOAD "-": each line of stdin is one payload, published in order,
//          each with a new random Nats-Msg-Id; prints {"published":N}
//        nats-tool.js count SUBJECT
//          how many messages stream STORE holds on SUBJECT (0 when the stream
//          does not exist yet)
//        nats-tool.js get SUBJECT [--headers]
//          every message of stream STORE on SUBJECT, oldest first, one JSON line
//          each: the payload (a JSON string when it is not JSON); with
//          --headers {"seq":N,"headers":{K:V...},"data":PAYLOAD}
//
// Environment: NATS_URL (default nats://127.0.0.1:4222).
// Exit status: 0 done, 1 failed (message on stderr), 64 usage.
'use strict';

const crypto = require('crypto');
const readline = require('readline');
const { connect, headers: natsHeaders } = require('nats');

const STREAM = 'STORE';
const USAGE = 'usage: nats-tool.js publish SUBJECT PAYLOAD [--id MSGID] [--header K:V]...\n' +
  '       nats-tool.js count SUBJECT\n' +
  '       nats-tool.js get SUBJECT [--headers]\n';

function usage(msg) {
  if (msg) process.stderr.write(`nats-tool.js: ${msg}\n`);
  process.stderr.write(USAGE);
  process.exit(64);
}

function parse(argv) {
  const positional = [];
  const opts = { id: null, headers: [], showHeaders: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--id' || a === '--header') {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      if (a === '--id') opts.id = argv[++i];
      else opts.headers.push(argv[++i]);
    } else if (a === '--headers') {
      opts.showHeaders = true;
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  return { positional, opts };
}

function isNotFound(e) {
  const text = `${e && e.message} ${e && e.api_error && e.api_error.description}`;
  const code = e && e.api_error && e.api_error.err_code;
  return /not found|no message found/i.test(text) || code === 10059 || code === 10037;
}

// Publishes stdin's lines in order, a window of acks in flight at a time.
async function publishLines(js, subject, makeHeaders) {
  const window = 256;
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let inflight = [];
  let n = 0;
  for await (const line of rl) {
    if (line === '') continue;
    const o = { msgID: crypto.randomBytes(12).toString('hex') };
    const h = makeHeaders();
    if (h) o.headers = h;
    inflight.push(js.publish(subject, new TextEncoder().encode(line), o));
    n++;
    if (inflight.length >= window) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
  process.stdout.write(JSON.stringify({ published: n }) + '\n');
}

async function publish(nc, subject, payload, opts) {
  const js = nc.jetstream();
  // A new headers object for each message: publish adds Nats-Msg-Id to it.
  const makeHeaders = () => {
    if (!opts.headers.length) return undefined;
    const h = natsHeaders();
    for (const kv of opts.headers) {
      const at = kv.indexOf(':');
      if (at < 1) usage(`--header wants K:V, not '${kv}'`);
      h.append(kv.slice(0, at), kv.slice(at + 1));
    }
    return h;
  };
  if (payload === '-') {
    if (opts.id !== null) usage('--id does not go with PAYLOAD -');
    await publishLines(js, subject, makeHeaders);
    return;
  }
  const popts = {};
  if (opts.id !== null) popts.msgID = opts.id;
  const h = makeHeaders();
  if (h) popts.headers = h;
  const ack = await js.publish(subject, new TextEncoder().encode(payload), popts);
  process.stdout.write(JSON.stringify({ seq: ack.seq, duplicate: ack.duplicate }) + '\n');
}

async function count(nc, subject) {
  const jsm = await nc.jetstreamManager();
  let info;
  try {
    info = await jsm.streams.info(STREAM, { subjects_filter: subject });
  } catch (e) {
    if (isNotFound(e)) {
      process.stdout.write('0\n');
      return;
    }
    throw e;
  }
  const subjects = info.state.subjects || {};
  process.stdout.write(`${subjects[subject] || 0}\n`);
}

function decode(data) {
  const text = new TextDecoder().decode(data);
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

async function get(nc, subject, opts) {
  const jsm = await nc.jetstreamManager();
  let seq = 1;
  for (;;) {
    let m;
    try {
      m = await jsm.streams.getMessage(STREAM, { seq, next_by_subj: subject });
    } catch (e) {
      if (isNotFound(e)) return; // no stream, or no message at seq or later
      throw e;
    }
    if (opts.showHeaders) {
      const h = {};
      if (m.header) {
        for (const [k] of m.header) h[k] = m.header.get(k);
      }
      process.stdout.write(JSON.stringify({ seq: m.seq, headers: h, data: decode(m.data) }) + '\n');
    } else {
      process.stdout.write(JSON.stringify(decode(m.data)) + '\n');
    }
    seq = m.seq + 1;
  }
}

async function main() {
  const { positional, opts } = parse(process.argv.slice(2));
  const [cmd, subject, payload] = positional;
  const want = { publish: 3, count: 2, get: 2 }[cmd];
  if (want === undefined) usage(cmd ? `unknown command ${cmd}` : 'a command is required');
  if (positional.length !== want) usage(`${cmd} takes ${want - 1} argument(s)`);
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://127.0.0.1:4222',
    timeout: 5000,
    reconnect: false,
  });
  try {
    if (cmd === 'publish') await publish(nc, subject, payload, opts);
    else if (cmd === 'count') await count(nc, subject);
    else await get(nc, subject, opts);
  } finally {
    await nc.close();
  }
}

main().catch((e) => {
  process.stderr.write(`nats-tool.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
