#!/usr/bin/env node
// compose-check.mjs - the store's rules for its compose file, on the output of
// "docker-compose config" (the file with variables and anchors resolved).
//
//   node tests/deploy/compose-check.mjs --config CONFIG --table TABLE
//        [--compose-file compose/compose.yaml --env-example compose/env.example]
//
// TABLE is "bin/store-nginx-conf --services" output. Rules:
//   - every row of the service table runs as the compose service of the same
//     name (the nginx config passes to NAME:9000) with its program;
//   - every service: read-only root filesystem, no capabilities, no privilege
//     escalation, a healthcheck, a restart policy;
//   - FastCGI programs listen on 0.0.0.0:9000 and get JWT_KEY;
//   - a SQLite STORE_DB lives on a named volume, shared by the service's
//     FastCGI program and daemon and by no other service; nats and redis keep
//     /data on named volumes;
//   - compose/env.example names every variable compose.yaml interpolates.
import { readFileSync } from "node:fs";
import { Report, YAML } from "./lib.mjs";

const report = new Report("compose-check");
const a = process.argv.slice(2);
const opt = {};
for (let i = 0; i < a.length; i += 2) opt[a[i].replace(/^--/, "")] = a[i + 1];
if (!opt.config || !opt.table) {
  console.error("compose-check: --config and --table are required");
  process.exit(64);
}

const cfg = YAML.parse(readFileSync(opt.config, "utf8"), { version: "1.1" });
const services = cfg?.services ?? {};
const named = new Set(Object.keys(cfg?.volumes ?? {}));
const table = readFileSync(opt.table, "utf8").split("\n").map((l) => l.trim().split(/\s+/)).filter((r) => r.length >= 5 && !r[0].startsWith("#"));
const fastcgi = new Set(table.filter((r) => r[2] === "no").map((r) => r[1]));
fastcgi.add("store-web"); // coming: the HTML front, a FastCGI program

const env = (svc) => {
  const e = svc.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((x) => [x.split("=")[0], x.split("=").slice(1).join("=")]));
  return e;
};
const mounts = (svc) =>
  (svc.volumes ?? []).map((v) => {
    if (typeof v === "object") return { source: v.source, target: v.target, type: v.type };
    const [source, target] = v.split(":");
    return { source, target, type: named.has(source) ? "volume" : "bind" };
  });

for (const [name, program, daemon] of table) {
  const svc = services[name];
  if (!svc) {
    report.error("", `service table row ${name} (${program}) has no compose service ${name}`);
    continue;
  }
  const cmd = Array.isArray(svc.command) ? svc.command[0] : String(svc.command ?? "").split(/\s+/)[0];
  if (cmd !== program) report.error(`service ${name}`, `runs ${cmd}, the service table says ${program}`);
  if (daemon === "yes" && fastcgi.has(cmd)) report.error(`service ${name}`, "the table says daemon");
}

const dbUsers = new Map();
for (const [name, svc] of Object.entries(services)) {
  const w = `service ${name}`;
  if (svc.read_only !== true) report.error(w, "root filesystem is not read-only (read_only: true)");
  if (!(svc.cap_drop ?? []).includes("ALL")) report.error(w, "does not drop ALL capabilities");
  if (!(svc.security_opt ?? []).some((o) => /^no-new-privileges(:true)?$/.test(o))) report.error(w, "no no-new-privileges");
  if (svc.privileged) report.error(w, "is privileged");
  if (!svc.healthcheck?.test || svc.healthcheck.disable) report.error(w, "no healthcheck");
  if (!svc.restart || svc.restart === "no") report.error(w, "no restart policy");
  if (svc.user !== undefined && /^(0|root)(:|$)/.test(String(svc.user))) report.error(w, "runs as root");
  if (svc.network_mode === "host") report.error(w, "uses the host network");
  const e = env(svc);
  const cmd = Array.isArray(svc.command) ? svc.command[0] : undefined;
  if (fastcgi.has(cmd)) {
    if (e.STORE_LISTEN !== "0.0.0.0:9000") report.error(w, `STORE_LISTEN is ${e.STORE_LISTEN}, not 0.0.0.0:9000 (nginx passes to ${name}:9000)`);
    if (!e.JWT_KEY) report.error(w, "no JWT_KEY");
  }
  for (const m of mounts(svc)) if (m.type === "bind") report.error(w, `bind-mounts ${m.source}: data lives on named volumes`);
  if (typeof e.STORE_DB === "string" && e.STORE_DB.startsWith("sqlite:")) {
    const path = e.STORE_DB.slice(7);
    const m = mounts(svc).find((x) => path.startsWith(`${x.target.replace(/\/$/, "")}/`));
    if (!m || m.type !== "volume") report.error(w, `STORE_DB ${e.STORE_DB} is not on a named volume`);
    else {
      if (!dbUsers.has(m.source)) dbUsers.set(m.source, new Set());
      dbUsers.get(m.source).add(path);
    }
  }
}
for (const [vol, paths] of dbUsers) if (paths.size > 1) report.error(`volume ${vol}`, `holds the databases of several services (${[...paths].join(", ")})`);
for (const n of ["nats", "redis"]) {
  const s = services[n];
  if (!s) report.error("", `no ${n} service`);
  else if (!mounts(s).some((m) => m.target === "/data" && m.type === "volume")) report.error(`service ${n}`, "keeps /data off a named volume");
}
const redisCmd = JSON.stringify(services.redis?.command ?? services.redis?.entrypoint ?? "");
if (/appendonly\s+no/.test(redisCmd)) report.error("service redis", "turns the append-only file off");

if (opt["compose-file"] && opt["env-example"]) {
  const src = readFileSync(opt["compose-file"], "utf8");
  const vars = new Set([...src.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  const ex = new Set(readFileSync(opt["env-example"], "utf8").split("\n").map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(l)?.[1]).filter(Boolean));
  for (const v of vars) if (!ex.has(v)) report.error(opt["env-example"], `does not name ${v}, which ${opt["compose-file"]} uses`);
  for (const v of ex) if (!vars.has(v) && !v.startsWith("COMPOSE_")) report.error(opt["env-example"], `names ${v}, which ${opt["compose-file"]} does not use`);
}

report.finish(`${Object.keys(services).length} services keep the rules; every row of the service table runs`);
