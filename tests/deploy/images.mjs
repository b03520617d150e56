#!/usr/bin/env node
// images.mjs - every image k8s/ and compose/ use is one compose/Dockerfile
// builds, or a pinned upstream image listed in tests/deploy/upstream-images.
//
//   node tests/deploy/images.mjs --dockerfile FILE [--k8s RENDERING]...
//        [--compose CONFIG]... [--skaffold FILE]
//
// An image built by the Dockerfile is a shipped stage (a named stage no other
// stage copies from) whose name is the image's name, whatever the registry
// and tag in front and behind (registry.example.com/store:0.1.0 is "store").
// compose services that build must build the stage their image is named
// after; skaffold artifacts likewise. Any other image must appear, exactly,
// in upstream-images, with a version tag (not "latest", not untagged), and
// every entry there must be used.
import { readFileSync } from "node:fs";
import { Report, loadDocs, readInput, podSpec, containers, id, parseImage, shippedStages, upstreamImages, YAML } from "./lib.mjs";

const report = new Report("images");
const a = process.argv.slice(2);
const opt = { dockerfile: null, k8s: [], compose: [], skaffold: [], upstream: undefined };
for (let i = 0; i < a.length; i++) {
  const k = a[i].replace(/^--/, "");
  if (!(k in opt) || i + 1 >= a.length) {
    console.error(`images: bad argument ${a[i]}`);
    process.exit(64);
  }
  if (Array.isArray(opt[k])) opt[k].push(a[++i]);
  else opt[k] = a[++i];
}
if (!opt.dockerfile) {
  console.error("images: --dockerfile is required");
  process.exit(64);
}

const stages = shippedStages(readFileSync(opt.dockerfile, "utf8"));
const built = new Set(stages.map((s) => s.name));
const upstream = upstreamImages(opt.upstream);
const usedUpstream = new Set();
let count = 0;

function check(where, ref) {
  count++;
  if (typeof ref !== "string" || !ref) {
    report.error(where, "no image");
    return;
  }
  const img = parseImage(ref);
  if (built.has(img.name) && !upstream.has(ref)) {
    if (img.tag === "" || img.name !== img.name.toLowerCase()) report.error(where, `image ${ref} is malformed`);
    return;
  }
  if (upstream.has(ref)) {
    usedUpstream.add(ref);
    if (!img.digest && (!img.tag || img.tag === "latest" || !/\d+\.\d+/.test(img.tag))) report.error(where, `upstream image ${ref} is not pinned to a version`);
    return;
  }
  report.error(where, `image ${ref} is neither built by ${opt.dockerfile} (stages ${[...built].join(", ")}) nor a pinned upstream image of tests/deploy/upstream-images`);
}

for (const f of opt.k8s) {
  for (const { doc, where } of loadDocs(readInput(f), f === "-" ? "stdin" : f, report)) {
    const spec = podSpec(doc);
    if (!spec) continue;
    for (const { c, kind } of containers(spec)) check(`${where} ${id(doc)} ${kind} ${c.name}`, c.image);
  }
}

for (const f of opt.compose) {
  const cfg = YAML.parse(readInput(f), { version: "1.1" });
  for (const [name, svc] of Object.entries(cfg?.services ?? {})) {
    const where = `${f} service ${name}`;
    check(where, svc.image);
    if (svc.build) {
      const img = parseImage(svc.image ?? "");
      const target = svc.build.target;
      if (!target) report.error(where, "builds without a target: the Dockerfile's last stage is not what its name says");
      else if (target !== img.name) report.error(where, `image ${svc.image} is built from stage ${target}`);
      if (!/(^|\/)compose\/Dockerfile$/.test(svc.build.dockerfile ?? "")) report.error(where, `builds ${svc.build.dockerfile}, not compose/Dockerfile`);
    } else if (built.has(parseImage(svc.image ?? "").name)) {
      report.error(where, `uses ${svc.image} without building it: docker-compose would pull it from a registry`);
    }
  }
}

for (const f of opt.skaffold) {
  const cfg = YAML.parse(readFileSync(f, "utf8"));
  if (!/^skaffold\/v\d/.test(cfg?.apiVersion ?? "") || cfg?.kind !== "Config") report.error(f, "not a skaffold Config");
  const arts = cfg?.build?.artifacts ?? [];
  if (!arts.length) report.error(f, "builds no artifact");
  for (const art of arts) {
    const where = `${f} artifact ${art.image}`;
    check(where, art.image);
    if (art.docker?.target !== art.image) report.error(where, `is built from stage ${art.docker?.target}`);
    if (!/(^|\/)compose\/Dockerfile$/.test(art.docker?.dockerfile ?? "")) report.error(where, `builds ${art.docker?.dockerfile}, not compose/Dockerfile`);
  }
  if (!(cfg?.manifests?.kustomize?.paths ?? []).length) report.error(f, "renders no kustomize overlay");
}

for (const ref of upstream.keys()) if (!usedUpstream.has(ref)) report.error("upstream-images", `${ref} is listed but used nowhere`);

report.finish(`${count} image references: built by the Dockerfile (${[...built].join(", ")}) or pinned upstream (${[...usedUpstream].join(", ") || "none"})`);
