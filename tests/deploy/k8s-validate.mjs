#!/usr/bin/env node
// k8s-validate.mjs - check Kubernetes manifests offline against the API of a
// current Kubernetes release, as the API server would, and against the store's
// own rules.
//
//   node tests/deploy/k8s-validate.mjs [OPTIONS] FILE...     (FILE - is stdin)
//
// Schema (always), for every document:
//   1. YAML, read as the API server's decoder reads it (YAML 1.1, no
//      duplicate keys);
//   2. apiVersion and kind exist in the API (kubernetes-models, generated from
//      Kubernetes' OpenAPI) in a version a current release serves by default:
//      a GA version (v1, v2), not an alpha or beta (kubernetes-models keeps
//      removed ones such as apps/v1beta1 and policy/v1beta1);
//   3. the object validates against that kind's JSON schema (types, required
//      fields, enums, formats: kubernetes-models' validators, ajv);
//   4. no unknown field anywhere (what "kubectl apply --validate=strict" and
//      kubeconform -strict refuse): TypeScript's excess-property check against
//      the same API types (kubernetes-models' declarations);
//   5. names the API server would refuse (DNS-1123 subdomain; DNS-1035 label
//      for Services; label keys and values; port names).
// With --policy, the set of documents is one whole rendering (an overlay) and
// must also keep the store's rules: see policy() below.
//
// Options:
//   --policy              check the store's rules on the whole set
//   --namespace NS        every namespaced object is in NS (with --policy)
//   --root-init NAME      init containers named NAME may run as root (the dev
//                         overlay's hostpath-owner); repeatable
//   --table FILE          "bin/store-nginx-conf --services" output: every row
//                         runs as the Deployment of its name with its program,
//                         a FastCGI row has the Service of its name (with --policy)
//   --no-strict           skip step 4 (the slow one: for tests of the rules)
//   --quiet               print nothing when all is well
// Exit status: 0 valid, 1 problems (listed on stderr), 64 usage.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { HERE, ROOT, Report, loadDocs, readInput, id, podSpec, podLabels, containers, matches } from "./lib.mjs";

const report = new Report("k8s-validate");
const args = process.argv.slice(2);
const files = [];
const opt = { policy: false, namespace: null, rootInit: new Set(), quiet: false, table: null, strict: true };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--policy") opt.policy = true;
  else if (a === "--quiet") opt.quiet = true;
  else if (a === "--no-strict") opt.strict = false;
  else if (a === "--namespace") opt.namespace = args[++i];
  else if (a === "--root-init") opt.rootInit.add(args[++i]);
  else if (a === "--table") opt.table = args[++i];
  else if (a === "-h" || a === "--help") {
    console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
    process.exit(0);
  } else if (a.startsWith("--")) {
    console.error(`k8s-validate: unknown option ${a}`);
    process.exit(64);
  } else files.push(a);
}
if (!files.length) {
  console.error("k8s-validate: name at least one file (- for stdin)");
  process.exit(64);
}

const MODELS = join(HERE, "node_modules", "kubernetes-models");
function modelsDir() {
  // Found the way node finds it: tests/deploy/node_modules or tests/node_modules.
  for (const d of [MODELS, join(HERE, "..", "node_modules", "kubernetes-models")]) if (existsSync(d)) return d;
  console.error("k8s-validate: kubernetes-models is not installed (npm ci in tests/deploy; see bin/store-deps)");
  process.exit(1);
}
const modelsRoot = modelsDir();

// "apps/v1" + "Deployment" -> "apps/v1/Deployment"; "v1" + "Service" -> "v1/Service".
function modelPath(doc) {
  if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") return null;
  if (!/^[A-Za-z0-9.-]+(\/[a-z0-9]+)?$/.test(doc.apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(doc.kind)) return null;
  const rel = `${doc.apiVersion}/${doc.kind}`;
  return existsSync(join(modelsRoot, `${rel}.js`)) ? rel : null;
}

// ---- 1-3: YAML, kinds, JSON schemas --------------------------------------
const items = [];
for (const f of files) {
  let text;
  try {
    text = readInput(f);
  } catch (e) {
    report.error(f, `cannot read: ${e.message}`);
    continue;
  }
  for (const it of loadDocs(text, f === "-" ? "stdin" : f, report)) {
    const { doc, where } = it;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      report.error(where, "not a mapping");
      continue;
    }
    for (const k of ["apiVersion", "kind"]) if (typeof doc[k] !== "string") report.error(where, `${k} is missing`);
    if (typeof doc.metadata?.name !== "string") report.error(where, "metadata.name is missing");
    const rel = modelPath(doc);
    if (rel && !/^v[0-9]+$/.test(doc.apiVersion.split("/").pop())) {
      report.error(where, `${doc.apiVersion} is an alpha or beta API: removed from or off by default in a current Kubernetes`);
      continue;
    }
    if (!rel) {
      report.error(where, `${doc.apiVersion}/${doc.kind} is not a kind of the Kubernetes API`);
      continue;
    }
    it.rel = rel;
    it.where = `${where} (${id(doc)})`;
    items.push(it);
  }
}

for (const it of items) {
  const mod = await import(pathToFileURL(join(modelsRoot, `${it.rel}.js`)).href);
  const Cls = mod[it.doc.kind];
  try {
    new Cls(it.doc).validate();
  } catch (e) {
    report.error(it.where, `schema: ${e.message}`);
  }
}

// ---- 4: unknown fields (TypeScript excess-property check) ----------------
async function strictFields(items) {
  if (!items.length) return;
  const ts = (await import("typescript")).default;
  const virt = join(HERE, "__k8s_validate__.mts");
  const lines = [];
  const ranges = [];
  items.forEach((it, i) => lines.push(`import type { I${it.doc.kind} as T${i} } from "kubernetes-models/${it.rel}";`));
  items.forEach((it, i) => {
    const start = lines.length + 1;
    const json = JSON.stringify(it.doc, null, 1).split("\n");
    json[0] = `export const d${i}: T${i} = ${json[0]}`;
    json[json.length - 1] += ";";
    lines.push(...json);
    ranges.push({ start, end: lines.length, it });
  });
  const src = lines.join("\n") + "\n";
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
    noErrorTruncation: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, ...rest) => (f === virt ? ts.createSourceFile(f, src, lang, true) : getSourceFile.call(host, f, lang, ...rest));
  host.fileExists = (f) => f === virt || fileExists.call(host, f);
  host.readFile = (f) => (f === virt ? src : readFile.call(host, f));
  const program = ts.createProgram([virt], options, host);
  const srcLines = src.split("\n");
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n");
    if (!d.file || d.file.fileName !== virt) {
      report.error("", `strict check: ${msg[0]}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const r = ranges.find((x) => line + 1 >= x.start && line + 1 <= x.end);
    const where = r ? r.it.where : `line ${line + 1}`;
    // The first line says what, the last which type; the source line shows where.
    const text = msg.length > 1 ? `${msg[0]} (${msg[msg.length - 1].trim()})` : msg[0];
    report.error(where, `strict: ${text} at: ${srcLines[line]?.trim().slice(0, 120)}`);
  }
}
if (opt.strict) await strictFields(items);

// ---- 5: names ------------------------------------------------------------
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^(?=.{1,63}$)[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(?=.{0,63}$)([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const LABEL_NAME = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function checkLabels(where, labels, what) {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : null;
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    if ((prefix !== null && !DNS1123_SUBDOMAIN.test(prefix)) || !LABEL_NAME.test(name)) report.error(where, `${what} key "${k}" is not a valid label key`);
    if (typeof v !== "string" || !LABEL_VALUE.test(v)) report.error(where, `${what} "${k}" has an invalid value "${v}"`);
  }
}

for (const { doc, where } of items) {
  const name = doc.metadata?.name;
  if (typeof name === "string") {
    const re = doc.kind === "Service" ? DNS1035_LABEL : doc.kind === "Namespace" ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
    if (!re.test(name)) report.error(where, `metadata.name "${name}" is not a valid ${doc.kind} name`);
  }
  checkLabels(where, doc.metadata?.labels, "label");
  const spec = podSpec(doc);
  if (spec) {
    checkLabels(where, podLabels(doc), "pod label");
    for (const { c } of containers(spec)) {
      for (const p of c.ports ?? []) if (p.name !== undefined && !PORT_NAME.test(p.name)) report.error(where, `container ${c.name}: port name "${p.name}" is not a valid port name (1-15 of a-z0-9-)`);
      const seen = new Set();
      for (const e of c.env ?? []) {
        if (!ENV_NAME.test(e.name ?? "")) report.error(where, `container ${c.name}: env name "${e.name}" is invalid`);
        if (seen.has(e.name)) report.error(where, `container ${c.name}: env ${e.name} appears twice`);
        seen.add(e.name);
      }
    }
  }
  if (doc.kind === "Service") for (const p of doc.spec?.ports ?? []) if (p.name !== undefined && !DNS1123_LABEL.test(p.name)) report.error(where, `port name "${p.name}" is invalid`);
}

// ---- the store's rules (--policy) ----------------------------------------
const CLUSTER_SCOPED = new Set(["Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding", "IngressClass", "PriorityClass", "CustomResourceDefinition"]);
// Secrets are created with kubectl (store(7)), never committed: these are the
// only ones the manifests may refer to, with their keys.
const SECRETS = { "store-jwt": ["JWT_KEY"], "store-stripe": ["STRIPE_KEY"] };
const SECRET_VOLUMES = new Set(["store-tls"]);

function policy(items) {
  const docs = items.map((i) => i.doc);
  const byKind = (k) => items.filter((i) => i.doc.kind === k);
  const find = (k, n) => docs.find((d) => d.kind === k && d.metadata?.name === n);
  const workloads = items.filter((i) => ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].includes(i.doc.kind));
  const seenIds = new Set();

  for (const { doc, where } of items) {
    const key = `${doc.kind}/${doc.metadata?.namespace ?? ""}/${doc.metadata?.name}`;
    if (seenIds.has(key)) report.error(where, "defined twice");
    seenIds.add(key);
    if (doc.kind === "Secret") report.error(where, "a Secret in the manifests: secrets are created with kubectl, never committed (store(7))");
    if (opt.namespace) {
      if (CLUSTER_SCOPED.has(doc.kind)) {
        if (doc.metadata?.namespace) report.error(where, `cluster-scoped ${doc.kind} has a namespace`);
      } else if (doc.metadata?.namespace !== opt.namespace) report.error(where, `not in namespace ${opt.namespace}`);
    }
    if (!CLUSTER_SCOPED.has(doc.kind) || doc.kind === "Namespace") {
      if (doc.metadata?.labels?.["app.kubernetes.io/part-of"] !== "store") report.error(where, "has no label app.kubernetes.io/part-of=store");
    }
  }

  for (const { doc, where } of workloads) {
    const spec = podSpec(doc);
    const labels = podLabels(doc);
    if (doc.kind !== "Job" && doc.kind !== "CronJob" && !matches(doc.spec?.selector?.matchLabels, labels)) report.error(where, "selector does not match the pod template's labels");
    if (labels["app.kubernetes.io/part-of"] !== "store") report.error(where, "pod template has no label app.kubernetes.io/part-of=store (NetworkPolicy nats)");
    if (spec.automountServiceAccountToken !== false) report.error(where, "automountServiceAccountToken is not false");
    const psc = spec.securityContext ?? {};
    if (psc.seccompProfile?.type !== "RuntimeDefault") report.error(where, "pod seccompProfile is not RuntimeDefault");
    for (const { c, kind } of containers(spec)) {
      const w = `${where} ${kind} ${c.name}`;
      const sc = c.securityContext ?? {};
      const rootOk = kind === "initContainer" && opt.rootInit.has(c.name);
      const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (!rootOk && (nonRoot !== true || uid === 0 || uid === undefined)) report.error(w, "does not run as a non-root user (runAsNonRoot and a non-zero runAsUser)");
      if (rootOk && !(sc.capabilities?.add ?? []).every((cap) => cap === "CHOWN")) report.error(w, "a root init container may add CHOWN only");
      if (sc.readOnlyRootFilesystem !== true) report.error(w, "root filesystem is not read-only");
      if (sc.allowPrivilegeEscalation !== false) report.error(w, "allowPrivilegeEscalation is not false");
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) report.error(w, "does not drop ALL capabilities");
      if (sc.privileged) report.error(w, "is privileged");
      for (const r of ["requests", "limits"]) for (const res of ["cpu", "memory"]) if (c.resources?.[r]?.[res] === undefined) report.error(w, `no resources.${r}.${res}`);
      if (!c.image) report.error(w, "no image");
      // configMaps and secrets referred to
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s && !(SECRETS[s.name] ?? []).includes(s.key)) report.error(w, `env ${e.name}: secret ${s.name}/${s.key} is not one of the documented Secrets`);
        const cm = e.valueFrom?.configMapKeyRef;
        if (cm && !find("ConfigMap", cm.name)?.data?.[cm.key]) report.error(w, `env ${e.name}: no ConfigMap ${cm.name} with key ${cm.key}`);
      }
      for (const ef of c.envFrom ?? []) {
        if (ef.configMapRef && !find("ConfigMap", ef.configMapRef.name)) report.error(w, `envFrom: no ConfigMap ${ef.configMapRef.name}`);
        if (ef.secretRef) report.error(w, "envFrom a Secret: name the keys one by one");
      }
      const vols = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
      for (const m of c.volumeMounts ?? []) {
        const claim = (doc.spec?.volumeClaimTemplates ?? []).some((t) => t.metadata?.name === m.name);
        if (!vols.has(m.name) && !claim) report.error(w, `mounts volume ${m.name}, which the pod does not have`);
      }
    }
    for (const v of spec.volumes ?? []) {
      if (v.configMap && !find("ConfigMap", v.configMap.name)) report.error(where, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      if (v.secret && !SECRET_VOLUMES.has(v.secret.secretName) && !SECRETS[v.secret.secretName]) report.error(where, `volume ${v.name}: secret ${v.secret.secretName} is not documented`);
      if (v.hostPath) report.error(where, `volume ${v.name}: hostPath in a pod (use a PersistentVolume)`);
    }

    // Probes of long-running containers.
    if (doc.kind === "Deployment" || doc.kind === "StatefulSet") {
      for (const c of spec.containers ?? []) {
        const w = `${where} container ${c.name}`;
        if (!c.livenessProbe) report.error(w, "no livenessProbe");
        if (!c.readinessProbe) report.error(w, "no readinessProbe");
      }
    }
    const comp = labels["app.kubernetes.io/component"];
    if (comp === "fastcgi") {
      for (const c of spec.containers ?? []) {
        const w = `${where} container ${c.name}`;
        const cmd = (p) => (c[p]?.exec?.command ?? []).join(" ");
        for (const p of ["startupProbe", "livenessProbe", "readinessProbe"]) if (c[p]?.httpGet || c[p]?.tcpSocket) report.error(w, `${p} is not an exec probe: a FastCGI program answers FastCGI, not HTTP`);
        if (cmd("livenessProbe") !== "store-probe fcgi /healthz") report.error(w, 'livenessProbe is not "store-probe fcgi /healthz"');
        if (cmd("readinessProbe") !== "store-probe fcgi /readyz") report.error(w, 'readinessProbe is not "store-probe fcgi /readyz"');
        const env = new Map((c.env ?? []).map((e) => [e.name, e]));
        const listen = env.get("STORE_LISTEN")?.value;
        const port = (c.ports ?? []).find((p) => p.name === "fastcgi")?.containerPort;
        if (!/^0\.0\.0\.0:\d+$/.test(listen ?? "") || Number(listen.split(":")[1]) !== port) report.error(w, `STORE_LISTEN "${listen}" does not listen on all addresses at the fastcgi port ${port}`);
        if (!env.get("JWT_KEY")?.valueFrom?.secretKeyRef) report.error(w, "JWT_KEY does not come from a Secret");
      }
    }
    if (comp === "daemon") {
      for (const c of spec.containers ?? []) {
        const w = `${where} container ${c.name}`;
        const live = (c.livenessProbe?.exec?.command ?? []).join(" ");
        if (live !== `store-probe process ${(c.args ?? [])[0]}`) report.error(w, `livenessProbe is not "store-probe process ${(c.args ?? [])[0]}"`);
        if ((c.ports ?? []).some((p) => p.name !== "metrics")) report.error(w, "a daemon has a port other than metrics");
      }
    }
    // The programs and daemons are scraped (docs/METRICS.md): annotations
    // naming the container port "metrics", where STORE_METRICS_LISTEN listens.
    if (comp === "fastcgi" || comp === "daemon") {
      const ann = doc.spec?.template?.metadata?.annotations ?? {};
      const cfg = find("ConfigMap", "store-env")?.data ?? {};
      for (const c of spec.containers ?? []) {
        const w = `${where} container ${c.name}`;
        const port = (c.ports ?? []).find((p) => p.name === "metrics")?.containerPort;
        const listen = (c.env ?? []).find((e) => e.name === "STORE_METRICS_LISTEN")?.value ??
          ((c.envFrom ?? []).some((ef) => ef.configMapRef?.name === "store-env") ? cfg.STORE_METRICS_LISTEN : undefined);
        if (ann["prometheus.io/scrape"] !== "true" || ann["prometheus.io/path"] !== "/metrics" ||
            ann["prometheus.io/port"] !== String(port)) report.error(w, `pod annotations prometheus.io/scrape "true", path "/metrics" and port of container port "metrics" (${port}) missing or wrong`);
        if (!/^0\.0\.0\.0:\d+$/.test(listen ?? "") || Number(listen.split(":")[1]) !== port) report.error(w, `STORE_METRICS_LISTEN "${listen}" does not listen on all addresses at the metrics port ${port}`);
      }
    }
    // STORE_DB of a mongodb:// URL names a replica set of this rendering.
    for (const { c } of containers(spec)) {
      const db = (c.env ?? []).find((e) => e.name === "STORE_DB")?.value;
      if (!db || !db.startsWith("mongodb://")) continue;
      const m = /^mongodb:\/\/([a-z0-9-]+):27017\/([a-z]+)\?replicaSet=rs0$/.exec(db);
      const sts = m && find("StatefulSet", m[1]);
      if (!sts) report.error(`${where} container ${c.name}`, `STORE_DB ${db} names no MongoDB StatefulSet here (mongodb://mongo-X:27017/DB?replicaSet=rs0)`);
      else if (sts.spec?.template?.metadata?.labels?.["store/service"] !== labels["store/service"]) report.error(`${where} container ${c.name}`, `STORE_DB ${db} is another service's database`);
    }
  }

  // Services select pods and name their ports.
  for (const { doc, where } of byKind("Service")) {
    const sel = doc.spec?.selector;
    const pods = workloads.filter((w) => matches(sel, podLabels(w.doc)));
    if (!pods.length) {
      report.error(where, "selects no pods");
      continue;
    }
    for (const p of doc.spec?.ports ?? []) {
      const t = p.targetPort ?? p.port;
      const ok = pods.some((w) => (podSpec(w.doc).containers ?? []).some((c) => (c.ports ?? []).some((cp) => (typeof t === "string" ? cp.name === t : cp.containerPort === t))));
      if (!ok) report.error(where, `port ${p.name ?? p.port}: no selected container has port ${t}`);
    }
  }
  for (const { doc, where } of byKind("StatefulSet")) {
    const svc = find("Service", doc.spec?.serviceName);
    if (!svc || svc.spec?.clusterIP !== "None") report.error(where, `serviceName ${doc.spec?.serviceName} is not a headless Service here`);
  }

  // The Ingress: FastCGI to Services that exist.
  for (const { doc, where } of byKind("Ingress")) {
    const ann = doc.metadata?.annotations ?? {};
    if (doc.spec?.ingressClassName !== "nginx") report.error(where, "ingressClassName is not nginx (ingress-nginx)");
    if (ann["nginx.ingress.kubernetes.io/backend-protocol"] !== "FCGI") report.error(where, "backend-protocol is not FCGI");
    const cmName = ann["nginx.ingress.kubernetes.io/fastcgi-params-configmap"];
    if (!cmName || !find("ConfigMap", cmName.split("/").pop())) report.error(where, `fastcgi-params-configmap ${cmName} names no ConfigMap here`);
    for (const r of doc.spec?.rules ?? []) {
      for (const p of r.http?.paths ?? []) {
        const b = p.backend?.service;
        const svc = b && find("Service", b.name);
        if (!svc) {
          report.error(where, `path ${p.path}: no Service ${b?.name}`);
          continue;
        }
        const port = b.port?.name ?? b.port?.number;
        if (!(svc.spec?.ports ?? []).some((sp) => sp.name === port || sp.port === port)) report.error(where, `path ${p.path}: Service ${b.name} has no port ${port}`);
      }
    }
  }

  // Autoscalers, disruption budgets.
  const hpaTargets = new Set();
  for (const { doc, where } of byKind("HorizontalPodAutoscaler")) {
    const t = doc.spec?.scaleTargetRef ?? {};
    const target = find(t.kind, t.name);
    if (!target) {
      report.error(where, `scaleTargetRef ${t.kind}/${t.name} does not exist here`);
      continue;
    }
    hpaTargets.add(`${t.kind}/${t.name}`);
    if (target.spec?.replicas !== undefined) report.error(where, `${t.kind}/${t.name} sets replicas, which fights the autoscaler on every apply`);
    const cs = target.spec?.template?.spec?.containers ?? [];
    if ((doc.spec?.metrics ?? []).some((m) => m.resource?.name === "cpu") && cs.some((c) => !c.resources?.requests?.cpu)) report.error(where, "CPU target but the pods request no CPU");
  }
  const pdbs = byKind("PodDisruptionBudget");
  for (const { doc, where } of pdbs) if (!workloads.some((w) => matches(doc.spec?.selector?.matchLabels, podLabels(w.doc)))) report.error(where, "selects no pods");
  for (const { doc, where } of workloads) {
    if (doc.kind === "Job" || doc.kind === "CronJob") continue;
    if (!pdbs.some((p) => matches(p.doc.spec?.selector?.matchLabels, podLabels(doc)))) report.error(where, "no PodDisruptionBudget");
    if (podLabels(doc)["app.kubernetes.io/component"] === "fastcgi" && doc.kind === "Deployment" && !hpaTargets.has(`Deployment/${doc.metadata.name}`) && doc.spec?.replicas === undefined) report.error(where, "neither replicas nor an autoscaler");
  }

  // A MongoDB replica set and its init Job agree on the members.
  for (const { doc, where } of byKind("StatefulSet")) {
    if (podLabels(doc)["app.kubernetes.io/component"] !== "database") continue;
    const job = docs.find((d) => d.kind === "Job" && (d.spec?.template?.spec?.containers ?? []).some((c) => (c.env ?? []).some((e) => e.name === "MONGO_SET" && e.value === doc.metadata.name)));
    if (!job) {
      report.error(where, "no init Job (MONGO_SET) initiates this replica set");
      continue;
    }
    const rep = job.spec.template.spec.containers.flatMap((c) => c.env ?? []).find((e) => e.name === "REPLICAS")?.value;
    if (Number(rep) !== (doc.spec?.replicas ?? 1)) report.error(where, `has ${doc.spec?.replicas ?? 1} replicas but Job/${job.metadata.name} initiates ${rep}`);
  }

  // Host-path PersistentVolumes are bound to claims the StatefulSets make.
  for (const { doc, where } of byKind("PersistentVolume")) {
    const ref = doc.spec?.claimRef;
    if (!ref) continue;
    const m = /^([a-z0-9-]+?)-([a-z0-9-]+)-(\d+)$/.exec(ref.name ?? "");
    const ok = byKind("StatefulSet").some(({ doc: s }) => (s.spec?.volumeClaimTemplates ?? []).some((t) => {
      const prefix = `${t.metadata?.name}-${s.metadata.name}-`;
      return ref.name?.startsWith(prefix) && Number(ref.name.slice(prefix.length)) < (s.spec?.replicas ?? 1) && (t.spec?.storageClassName ?? null) === (doc.spec?.storageClassName ?? null);
    }));
    if (!m || !ok) report.error(where, `claimRef ${ref.name} is no claim of a StatefulSet here with storageClassName ${doc.spec?.storageClassName}`);
    if (opt.namespace && ref.namespace !== opt.namespace) report.error(where, `claimRef namespace ${ref.namespace} is not ${opt.namespace}`);
  }
}

// Every row of the service table runs here.
function table(items, file) {
  const rows = readFileSync(file, "utf8").split("\n").map((l) => l.trim().split(/\s+/)).filter((r) => r.length >= 5 && !r[0].startsWith("#"));
  if (!rows.length) report.error(file, "no rows");
  for (const [name, program, daemon] of rows) {
    const dep = items.find((i) => i.doc.kind === "Deployment" && i.doc.metadata?.name === name)?.doc;
    if (!dep) {
      report.error("", `service table row ${name} (${program}) has no Deployment ${name}`);
      continue;
    }
    const args = (dep.spec?.template?.spec?.containers ?? []).map((c) => (c.args ?? [])[0]);
    if (!args.includes(program)) report.error(`Deployment/${name}`, `runs ${args.join(", ")}; the service table says ${program}`);
    const svc = items.some((i) => i.doc.kind === "Service" && i.doc.metadata?.name === name);
    if (daemon === "no" && !svc) report.error("", `FastCGI row ${name} has no Service ${name} (the Ingress and nginx name it so)`);
    if (daemon === "yes" && svc) report.error(`Service/${name}`, "the service table says daemon: no socket to serve");
  }
}

if (opt.policy) policy(items);
if (opt.table) table(items, opt.table);

report.finish(opt.quiet ? null : `${items.length} objects valid${opt.policy ? ", store rules kept" : ""}`);
