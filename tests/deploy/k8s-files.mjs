#!/usr/bin/env node
// k8s-files.mjs - which YAML files of k8s/ are what, from the kustomizations.
//
//   node tests/deploy/k8s-files.mjs resources   whole objects (validated alone)
//   node tests/deploy/k8s-files.mjs patches     partial objects (checked in the
//                                               renderings of the overlays)
//   node tests/deploy/k8s-files.mjs overlays    the overlay folders
//   node tests/deploy/k8s-files.mjs check       every YAML file of k8s/ is one of
//                                               these, a kustomization or
//                                               skaffold.yaml, and every file a
//                                               kustomization names exists
// Paths are relative to the repository root, one a line.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT, Report, YAML } from "./lib.mjs";

const K8S = join(ROOT, "k8s");
const report = new Report("k8s-files");
const mode = process.argv[2];

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.ya?ml$/.test(e)) out.push(p);
  }
  return out;
}

const all = walk(K8S).sort();
const kustomizations = all.filter((f) => /\/kustomization\.ya?ml$/.test(f));
const resources = new Set();
const patches = new Set();
const overlays = [];
for (const k of kustomizations) {
  const dir = dirname(k);
  let kz;
  try {
    kz = YAML.parse(readFileSync(k, "utf8"));
  } catch (e) {
    report.error(relative(ROOT, k), `YAML: ${e.message.split("\n")[0]}`);
    continue;
  }
  if (relative(K8S, dir).startsWith("overlays")) overlays.push(dir);
  for (const r of kz.resources ?? []) {
    const p = resolve(dir, r);
    if (!existsSync(p)) report.error(relative(ROOT, k), `resource ${r} does not exist`);
    else if (!statSync(p).isDirectory()) resources.add(p);
  }
  for (const p of [...(kz.patches ?? []), ...(kz.patchesStrategicMerge ?? [])]) {
    const path = typeof p === "string" ? p : p.path;
    if (!path) continue;
    const f = resolve(dir, path);
    if (!existsSync(f)) report.error(relative(ROOT, k), `patch ${path} does not exist`);
    else patches.add(f);
  }
}

const rel = (s) => [...s].map((f) => relative(ROOT, f)).sort();
switch (mode) {
  case "resources":
    console.log(rel(resources).join("\n"));
    break;
  case "patches":
    console.log(rel(patches).join("\n"));
    break;
  case "overlays":
    console.log(rel(overlays).join("\n"));
    break;
  case "check":
    for (const f of all) {
      if (kustomizations.includes(f) || resources.has(f) || patches.has(f) || f === join(K8S, "skaffold.yaml")) continue;
      report.error(relative(ROOT, f), "is neither a resource nor a patch of a kustomization: nothing deploys or checks it");
    }
    for (const f of resources) if (patches.has(f)) report.error(relative(ROOT, f), "is both a resource and a patch");
    break;
  default:
    console.error("usage: k8s-files.mjs resources|patches|overlays|check");
    process.exit(64);
}
report.finish(mode === "check" ? `${all.length} YAML files accounted for` : null);
