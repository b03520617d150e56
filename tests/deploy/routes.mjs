#!/usr/bin/env node
// routes.mjs - the Ingress routes exactly what the local nginx config routes.
//
//   node tests/deploy/routes.mjs --nginx CONF [--nginx CONF]... --ingress YAML
//        [--ahead NAME,...]
//
// An nginx config (bin/store-nginx-conf's, or compose/nginx-container's) routes
// a path prefix P to a FastCGI service S with "location = P" and "location P/"
// passing to S's socket (unix:.../run/S.sock, or S:9000, directly or through
// an upstream block whose one server is that socket); an Ingress path P of
// pathType Prefix to Service S means the same in ingress-nginx. The two sets
// of (P, S) must be equal, and so must the largest body (client_max_body_size,
// nginx.ingress.kubernetes.io/proxy-body-size). --ahead names services the
// Ingress may route before the service table has them (their routes are then
// printed as notes); a service in the table is always compared in full.
import { readFileSync } from "node:fs";
import { Report, loadDocs, readInput } from "./lib.mjs";

const report = new Report("routes");
const a = process.argv.slice(2);
const nginxFiles = [];
let ingressFile = null;
let ahead = new Set();
for (let i = 0; i < a.length; i++) {
  if (a[i] === "--nginx") nginxFiles.push(a[++i]);
  else if (a[i] === "--ingress") ingressFile = a[++i];
  else if (a[i] === "--ahead") ahead = new Set(a[++i].split(",").filter(Boolean));
  else {
    console.error(`routes: bad argument ${a[i]}`);
    process.exit(64);
  }
}
if (!nginxFiles.length || !ingressFile) {
  console.error("routes: --nginx and --ingress are required");
  process.exit(64);
}

// nginxRoutes(text): { routes: Map "P -> S", body }.
function nginxRoutes(text, name) {
  const exact = new Map();
  const prefix = new Map();
  const clean = text.replace(/#[^\n]*/g, "");
  // upstream NAME { server TARGET; ... }: NAME stands for TARGET.
  const upstreams = new Map();
  const ure = /upstream\s+([A-Za-z0-9_-]+)\s*\{([^{}]*)\}/g;
  let m;
  while ((m = ure.exec(clean))) {
    const servers = [...m[2].matchAll(/(?:^|[;\s])server\s+([^;\s]+)[^;]*;/g)];
    if (servers.length !== 1) report.error(name, `upstream ${m[1]}: ${servers.length} servers, not one`);
    else upstreams.set(m[1], servers[0][1]);
  }
  const re = /location\s+(=\s*)?([^\s{]+)\s*\{([^{}]*)\}/g;
  while ((m = re.exec(clean))) {
    const [, eq, path, body] = m;
    // Named and internal locations (nginx's own error answers) route nothing.
    if (path.startsWith("@") || /(^|[;\s])internal\s*;/.test(body)) continue;
    let svc = null;
    const pass = /fastcgi_pass\s+([^;\s]+)\s*;/.exec(body);
    if (pass) {
      let target = pass[1];
      if (target.startsWith("$")) {
        const set = new RegExp(`set\\s+\\${target}\\s+([^;\\s]+)\\s*;`).exec(body);
        if (!set) {
          report.error(name, `location ${path}: fastcgi_pass ${target} without "set ${target}"`);
          continue;
        }
        target = set[1];
      }
      if (upstreams.has(target)) target = upstreams.get(target);
      let u;
      if ((u = /^unix:.*\/run\/([A-Za-z0-9_-]+)\.sock$/.exec(target))) svc = u[1];
      else if ((u = /^([a-z0-9-]+):(\d+)$/.exec(target))) svc = u[1];
      else {
        report.error(name, `location ${path}: fastcgi_pass ${target} names no service`);
        continue;
      }
    } else if (!/return\s+404\s*;/.test(body)) {
      report.error(name, `location ${path}: neither fastcgi_pass nor "return 404"`);
      continue;
    }
    if (!svc) continue;
    if (eq) exact.set(path, svc);
    else if (path === "/") prefix.set("/", svc);
    else if (path.endsWith("/")) prefix.set(path.slice(0, -1), svc);
    else report.error(name, `location ${path}: a prefix location without a trailing slash also matches ${path}x...`);
  }
  const routes = new Map();
  for (const [p, s] of prefix) {
    if (p !== "/" && exact.get(p) !== s) report.error(name, `prefix ${p}/ goes to ${s} but "location = ${p}" goes to ${exact.get(p) ?? "nothing"}`);
    routes.set(p, s);
  }
  for (const [p, s] of exact) if (!prefix.has(p)) report.error(name, `"location = ${p}" (${s}) has no "location ${p}/": an Ingress Prefix path matches both`);
  const body = /client_max_body_size\s+([^;\s]+)\s*;/.exec(clean)?.[1] ?? null;
  return { routes, body };
}

const ingress = new Map();
let ingressBody = null;
let ingresses = 0;
for (const { doc, where } of loadDocs(readInput(ingressFile), ingressFile, report)) {
  if (doc.kind !== "Ingress") continue;
  ingresses++;
  ingressBody = doc.metadata?.annotations?.["nginx.ingress.kubernetes.io/proxy-body-size"] ?? null;
  for (const r of doc.spec?.rules ?? []) {
    for (const p of r.http?.paths ?? []) {
      if (p.pathType !== "Prefix") {
        report.error(where, `path ${p.path} is ${p.pathType}, not Prefix (the local config's "= P" plus "P/")`);
        continue;
      }
      const path = p.path.length > 1 ? p.path.replace(/\/$/, "") : p.path;
      const svc = p.backend?.service?.name;
      if (ingress.has(path) && ingress.get(path) !== svc) report.error(where, `path ${path} goes to ${ingress.get(path)} and ${svc}`);
      ingress.set(path, svc);
    }
  }
  if (doc.spec?.defaultBackend) report.error(where, "has a defaultBackend: the local config answers 404 for what it does not route");
}
if (ingresses !== 1) report.error(ingressFile, `has ${ingresses} Ingress objects, not 1`);

const norm = (s) => String(s ?? "").toLowerCase().replace(/^(\d+)$/, "$1b");
for (const f of nginxFiles) {
  const { routes, body } = nginxRoutes(readFileSync(f, "utf8"), f);
  if (!routes.size) report.error(f, "routes nothing");
  const inTable = new Set(routes.values());
  for (const [p, s] of routes) {
    if (!ingress.has(p)) report.error(f, `routes ${p} to ${s}; the Ingress does not route ${p}`);
    else if (ingress.get(p) !== s) report.error(f, `routes ${p} to ${s}; the Ingress to ${ingress.get(p)}`);
  }
  for (const [p, s] of ingress) {
    if (routes.has(p)) continue;
    if (ahead.has(s) && !inTable.has(s)) {
      report.note(`${f}: the Ingress routes ${p} to ${s}, which the service table does not have yet`);
      continue;
    }
    report.error(f, `does not route ${p}; the Ingress routes it to ${s}`);
  }
  if (norm(body) !== norm(ingressBody)) report.error(f, `client_max_body_size ${body}, Ingress proxy-body-size ${ingressBody}`);
}

report.finish(`the Ingress and ${nginxFiles.join(", ")} route the same ${nginxFiles.length > 1 ? "prefixes" : "prefixes"} (${[...ingress].filter(([, s]) => !ahead.has(s)).map(([p, s]) => `${p}->${s}`).join(" ")})`);
