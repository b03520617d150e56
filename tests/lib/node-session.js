#!/usr/bin/env node
// node-session.js - print a `session` cookie value exactly as the original
// Node.js store made it (jsonwebtoken + cookie-session): base64 of the JSON
// {"jwt": "<HS256 token with claims id, email, iat>"}.
//
// Usage: node-session.js ID EMAIL KEY [--sign-key OTHER] [--expires-in SECONDS]
//   --sign-key OTHER     sign with OTHER instead of KEY (a forged session)
//   --expires-in SECONDS add an exp claim SECONDS from now (negative: expired)
'use strict';

const jwt = require('jsonwebtoken');

function usage(msg) {
  if (msg) process.stderr.write(`node-session.js: ${msg}\n`);
  process.stderr.write('usage: node-session.js ID EMAIL KEY [--sign-key OTHER] [--expires-in SECONDS]\n');
  process.exit(64);
}

const args = process.argv.slice(2);
const positional = [];
const options = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--help' || a === '-h') usage();
  if (a === '--sign-key' || a === '--expires-in') {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    options[a] = args[++i];
  } else if (a.startsWith('--')) {
    usage(`unknown option ${a}`);
  } else {
    positional.push(a);
  }
}
if (positional.length !== 3) usage('expected ID EMAIL KEY');
const [id, email, key] = positional;

const signOptions = {};
if (options['--expires-in'] !== undefined) {
  const seconds = Number(options['--expires-in']);
  if (!Number.isInteger(seconds)) usage('--expires-in needs a whole number of seconds');
  signOptions.expiresIn = seconds;
}

// The original signed with the default algorithm, HS256.
const token = jwt.sign({ id, email }, options['--sign-key'] || key, signOptions);
process.stdout.write(Buffer.from(JSON.stringify({ jwt: token })).toString('base64') + '\n');
