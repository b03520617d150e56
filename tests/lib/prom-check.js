#!/usr/bin/env node
// prom-check.js - a strict checker of Prometheus's text exposition format
// (0.0.4), for the bats tests of /metrics.
//
// Usage: prom-check.js FILE        checks FILE ("-": stdin); prints nothing
//        prom-check.js FILE --json checks it, then prints every sample as
//                                  one JSON line {"name","labels","value"}
//
// Checked: every line is a "# HELP name text", a "# TYPE name type", another
// comment, or a sample "name{label="value",...} value [timestamp]"; names
// and label names well-formed; label values use only the escapes \\ \" \n;
// values are floats, +Inf, -Inf or NaN; one HELP and one TYPE at most per
// family, the TYPE before its samples, a family's samples together; no
// series twice; counters (and histogram buckets, sums of counts) never
// negative; a histogram's buckets have le, are cumulative (never
// decreasing as le grows), end with le="+Inf" equal to _count, and each
// series has its _sum and _count; the text ends with a newline.
// Exit status: 0 valid, 1 invalid (the first problem on stderr, with its
// line number), 64 usage.
'use strict';

const fs = require('fs');

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(line, msg) {
  process.stderr.write(`prom-check: line ${line}: ${msg}\n`);
  process.exit(1);
}

function parseValue(s, line) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) fail(line, `bad value '${s}'`);
  return Number(s);
}

// Parses {a="x",b="y"} at text[i] (which is '{'); returns [labels, next index].
function parseLabels(text, i, line) {
  const labels = {};
  i++;
  while (text[i] !== '}') {
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!m) fail(line, `bad label name at column ${i + 1}`);
    const name = m[0];
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') fail(line, `label '${name}' needs ="value"`);
    i += 2;
    let v = '';
    for (;;) {
      if (i >= text.length) fail(line, `label '${name}' has no closing quote`);
      const c = text[i];
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        if (n === '\\') v += '\\';
        else if (n === '"') v += '"';
        else if (n === 'n') v += '\n';
        else fail(line, `label '${name}' has a bad escape '\\${n}'`);
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    i++;
    if (Object.prototype.hasOwnProperty.call(labels, name)) fail(line, `label '${name}' twice`);
    labels[name] = v;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(line, `expected , or } after label '${name}'`);
  }
  return [labels, i + 1];
}

function familyOf(name, types) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
    }
  }
  return name;
}

function main() {
  const args = process.argv.slice(2);
  if (args.length < 1 || args.length > 2 || (args[1] && args[1] !== '--json')) {
    process.stderr.write('usage: prom-check.js FILE [--json]\n');
    process.exit(64);
  }
  const text = fs.readFileSync(args[0] === '-' ? 0 : args[0], 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) fail(text.split('\n').length, 'no final newline');
  const lines = text.split('\n');
  lines.pop();
  const types = new Map();
  const helps = new Set();
  const seen = new Set();      // families whose samples began
  const done = new Set();      // families whose samples ended
  const series = new Set();
  const hist = new Map();      // family + labels without le -> {buckets, sum, count}
  const samples = [];
  let current = null;
  lines.forEach((l, idx) => {
    const n = idx + 1;
    if (l.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(l);
      if (!m) return; // another comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) fail(n, `bad metric name '${name}'`);
      if (seen.has(name)) fail(n, `${kind} of '${name}' after its samples`);
      if (kind === 'HELP') {
        if (helps.has(name)) fail(n, `second HELP of '${name}'`);
        if (/\\[^\\n]/.test((rest || '').replace(/\\\\/g, ''))) fail(n, `bad escape in HELP of '${name}'`);
        helps.add(name);
      } else {
        if (types.has(name)) fail(n, `second TYPE of '${name}'`);
        if (!TYPES.has(rest)) fail(n, `unknown type '${rest}'`);
        types.set(name, rest);
      }
      return;
    }
    if (l.trim() === '') fail(n, 'empty line');
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l);
    if (!m) fail(n, 'a sample must start with a metric name');
    const name = m[0];
    let i = name.length;
    let labels = {};
    if (l[i] === '{') [labels, i] = parseLabels(l, i, n);
    for (const k of Object.keys(labels)) if (!LABEL.test(k) || k.startsWith('__')) fail(n, `bad label name '${k}'`);
    if (l[i] !== ' ') fail(n, 'expected a space before the value');
    const parts = l.slice(i + 1).split(' ');
    if (parts.length > 2 || parts[0] === '') fail(n, 'expected "value [timestamp]"');
    const value = parseValue(parts[0], n);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) fail(n, `bad timestamp '${parts[1]}'`);
    const fam = familyOf(name, types);
    if (fam !== current) {
      if (done.has(fam) || (seen.has(fam) && fam !== current)) fail(n, `samples of '${fam}' are not together`);
      if (current !== null) done.add(current);
      current = fam;
      seen.add(fam);
    }
    const type = types.get(fam) || 'untyped';
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) fail(n, `series ${name}${JSON.stringify(labels)} twice`);
    series.add(key);
    if (type === 'counter' && !(value >= 0)) fail(n, `counter '${name}' is ${parts[0]}`);
    if (type === 'histogram') {
      if (name === fam) fail(n, `histogram '${fam}' sample without _bucket, _sum or _count`);
      const rest = { ...labels };
      delete rest.le;
      const hk = fam + JSON.stringify(Object.entries(rest).sort());
      if (!hist.has(hk)) hist.set(hk, { buckets: [], sum: null, count: null, line: n });
      const h = hist.get(hk);
      if (name.endsWith('_bucket')) {
        if (!('le' in labels)) fail(n, `bucket of '${fam}' without le`);
        const le = parseValue(labels.le, n);
        if (!(value >= 0)) fail(n, `bucket of '${fam}' is ${parts[0]}`);
        h.buckets.push({ le, value, n });
      } else {
        if ('le' in labels) fail(n, `${name} with le`);
        if (name.endsWith('_sum')) h.sum = value;
        else {
          if (!(value >= 0) || !Number.isInteger(value)) fail(n, `count of '${fam}' is ${parts[0]}`);
          h.count = value;
        }
      }
    }
    samples.push({ name, labels, value: parts[0] });
  });
  for (const [hk, h] of hist) {
    if (h.buckets.length === 0) fail(h.line, `histogram ${hk} has no buckets`);
    for (let k = 1; k < h.buckets.length; k++) {
      if (!(h.buckets[k].le > h.buckets[k - 1].le)) fail(h.buckets[k].n, `buckets of ${hk} not in increasing le`);
      if (h.buckets[k].value < h.buckets[k - 1].value) fail(h.buckets[k].n, `buckets of ${hk} not cumulative`);
    }
    const last = h.buckets[h.buckets.length - 1];
    if (last.le !== Infinity) fail(last.n, `histogram ${hk} has no le="+Inf" bucket`);
    if (h.count === null || h.sum === null) fail(h.line, `histogram ${hk} lacks _sum or _count`);
    if (h.count !== last.value) fail(last.n, `histogram ${hk}: +Inf bucket ${last.value} is not _count ${h.count}`);
  }
  if (args[1] === '--json') {
    for (const s of samples) process.stdout.write(JSON.stringify(s) + '\n');
  }
}

main();
