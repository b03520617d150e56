// lib.mjs - what the deployment checks share: reading YAML documents, the
// Kubernetes object helpers, image references, the Dockerfile's stages.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import YAML from "yaml";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "../..");
export const require = createRequire(import.meta.url);

// Problems found, printed at the end; the exit status says whether any was.
export class Report {
  constructor(prog) {
    this.prog = prog;
    this.errors = [];
    this.notes = [];
  }
  error(where, msg) {
    this.errors.push(where ? `${where}: ${msg}` : msg);
  }
  note(msg) {
    this.notes.push(msg);
  }
  finish(okMessage) {
    for (const n of this.notes) console.log(`${this.prog}: note: ${n}`);
    if (this.errors.length) {
      for (const e of this.errors) console.error(`${this.prog}: ${e}`);
      console.error(`${this.prog}: ${this.errors.length} problem(s)`);
      process.exit(1);
    }
    if (okMessage) console.log(`${this.prog}: ${okMessage}`);
    process.exit(0);
  }
}

export function readInput(file) {
  return file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
}

// loadDocs(text, name): the YAML documents of a (multi-document) file, each
// { doc, where, index }. Duplicate keys, tabs, anchors to nowhere and other
// syntax errors are errors, as a strict YAML parser (the API server's) sees
// them. Empty documents are skipped.
export function loadDocs(text, name, report) {
  const out = [];
  // YAML 1.1, as the API server's decoder reads it: a bare on, off, yes or no is a
  // boolean there, so it must be one here too.
  const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true, strict: true });
  docs.forEach((d, index) => {
    const where = `${name} document ${index + 1}`;
    for (const e of d.errors) report.error(where, `YAML: ${e.message.split("\n")[0]}`);
    for (const w of d.warnings) report.error(where, `YAML: ${w.message.split("\n")[0]}`);
    if (d.errors.length) return;
    const doc = d.toJS({ maxAliasCount: 100 });
    if (doc === null || doc === undefined) return;
    out.push({ doc, where, index });
  });
  return out;
}

// id(doc): "Kind/name" for messages.
export function id(doc) {
  return `${doc?.kind ?? "?"}/${doc?.metadata?.name ?? "?"}`;
}

// The pod template spec of a workload, or null.
export function podSpec(doc) {
  switch (doc.kind) {
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return doc.spec?.template?.spec ?? null;
    case "CronJob":
      return doc.spec?.jobTemplate?.spec?.template?.spec ?? null;
    case "Pod":
      return doc.spec ?? null;
    default:
      return null;
  }
}

export function podLabels(doc) {
  if (doc.kind === "Pod") return doc.metadata?.labels ?? {};
  if (doc.kind === "CronJob") return doc.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
  return doc.spec?.template?.metadata?.labels ?? {};
}

// Every container of a pod spec, with its kind ("container", "initContainer").
export function containers(spec) {
  const out = [];
  for (const c of spec?.initContainers ?? []) out.push({ c, kind: "initContainer" });
  for (const c of spec?.containers ?? []) out.push({ c, kind: "container" });
  for (const c of spec?.ephemeralContainers ?? []) out.push({ c, kind: "ephemeralContainer" });
  return out;
}

// matches(selector, labels): every key=value of a matchLabels-style map holds.
export function matches(selector, labels) {
  const keys = Object.keys(selector ?? {});
  return keys.length > 0 && keys.every((k) => labels?.[k] === selector[k]);
}

// parseImage("registry.example.com:5000/team/store:1.0@sha256:..."):
// { ref, registry, path, name, tag, digest }. name is the last path component.
export function parseImage(ref) {
  let rest = ref;
  let digest = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = null;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split("/");
  let registry = null;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) registry = parts.shift();
  const name = parts[parts.length - 1];
  return { ref, registry, path: parts.join("/"), name, tag, digest };
}

// Dockerfile stages: [{ name, base, line, copiedFrom: bool, instructions }].
// A stage that another stage copies from (COPY --from=NAME) builds things; a
// named stage nobody copies from is an image we ship.
export function dockerfileStages(text) {
  const { DockerfileParser } = require("dockerfile-ast");
  const df = DockerfileParser.parse(text);
  const stages = [];
  let cur = null;
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword();
    if (kw === "FROM") {
      cur = {
        name: ins.getBuildStage() ?? null,
        base: ins.getImage(),
        line: ins.getRange().start.line + 1,
        copiedFrom: false,
        instructions: [],
      };
      stages.push(cur);
      continue;
    }
    if (cur) cur.instructions.push(ins);
  }
  for (const s of stages) {
    for (const ins of s.instructions) {
      if (ins.getKeyword() !== "COPY") continue;
      for (const f of ins.getFlags()) {
        if (f.getName() === "from") {
          const src = stages.find((t) => t.name === f.getValue());
          if (src) src.copiedFrom = true;
        }
      }
    }
  }
  return stages;
}

export function shippedStages(text) {
  return dockerfileStages(text).filter((s) => s.name && !s.copiedFrom);
}

// upstream-images: the pinned images of other projects k8s/ or compose/ may
// use, one "NAME:TAG  why" a line.
export function upstreamImages(file = join(HERE, "upstream-images")) {
  const out = new Map();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const t = line.replace(/#.*/, "").trim();
    if (!t) continue;
    const [ref, ...why] = t.split(/\s+/);
    out.set(ref, why.join(" "));
  }
  return out;
}

export { YAML };
