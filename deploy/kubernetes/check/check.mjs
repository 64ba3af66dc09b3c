// Validates every manifest in deploy/kubernetes against the Kubernetes API's OpenAPI schemas
// (kubernetes-models, generated from them) and checks what a schema cannot: names that must
// refer to each other (ConfigMaps, Secrets, ServiceAccounts, volumes), the namespace, that
// selectors match their pod templates, and that the CNI conflist is valid JSON naming fabric.
// Usage: node check.mjs [dir]; prints one line per document, exits 1 on any problem.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { Namespace, ServiceAccount, ConfigMap, Service } from "kubernetes-models/v1";
import { StatefulSet, DaemonSet } from "kubernetes-models/apps/v1";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1";

const kinds = { "v1/Namespace": Namespace, "v1/ServiceAccount": ServiceAccount, "v1/ConfigMap": ConfigMap, "v1/Service": Service, "apps/v1/StatefulSet": StatefulSet, "apps/v1/DaemonSet": DaemonSet, "rbac.authorization.k8s.io/v1/Role": Role };
const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..");
const namespace = "fabric-system";
// Created by the operator, not shipped (it holds the storage account key).
const operatorSecrets = new Set(["fabric-storage"]);
const problems = [];
const docs = [];

for (const file of readdirSync(dir).filter(f => f.endsWith(".yaml")).sort()) {
  for (const document of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
    if (document.errors.length) { problems.push(`${file}: YAML: ${document.errors[0].message}`); continue; }
    const doc = document.toJS();
    if (!doc) continue;
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const Model = kinds[`${doc.apiVersion}/${doc.kind}`];
    if (!Model) { problems.push(`${where}: no schema known for ${doc.apiVersion} ${doc.kind}`); continue; }
    try { new Model(doc).validate(); } catch (e) { problems.push(`${where}: ${e.message}`); }
    if (doc.kind !== "Namespace" && doc.metadata?.namespace !== namespace) problems.push(`${where}: namespace must be ${namespace}`);
    docs.push({ file, where, doc });
  }
}

const names = kind => new Set(docs.filter(d => d.doc.kind === kind).map(d => d.doc.metadata.name));
const configMaps = names("ConfigMap"), accounts = names("ServiceAccount"), services = names("Service");
if (!names("Namespace").has(namespace)) problems.push(`no Namespace ${namespace}`);
for (const { where, doc } of docs.filter(d => ["StatefulSet", "DaemonSet"].includes(d.doc.kind))) {
  const spec = doc.spec, pod = spec.template.spec;
  for (const [k, v] of Object.entries(spec.selector.matchLabels ?? {})) {
    if (spec.template.metadata?.labels?.[k] !== v) problems.push(`${where}: selector ${k}=${v} does not match the pod template's labels`);
  }
  if (!accounts.has(pod.serviceAccountName)) problems.push(`${where}: serviceAccountName ${pod.serviceAccountName} is not defined`);
  if (doc.kind === "StatefulSet" && !services.has(spec.serviceName)) problems.push(`${where}: serviceName ${spec.serviceName} is not defined`);
  const volumes = new Set((pod.volumes ?? []).map(v => v.name));
  for (const v of pod.volumes ?? []) if (v.configMap && !configMaps.has(v.configMap.name)) problems.push(`${where}: volume ${v.name} names ConfigMap ${v.configMap.name}, not defined`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`${where}: container ${c.name} mounts ${m.name}, not a volume of the pod`);
    for (const e of c.envFrom ?? []) if (e.configMapRef && !configMaps.has(e.configMapRef.name)) problems.push(`${where}: container ${c.name} takes env from ConfigMap ${e.configMapRef.name}, not defined`);
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef, m = e.valueFrom?.configMapKeyRef;
      if (s && !operatorSecrets.has(s.name)) problems.push(`${where}: ${e.name} reads Secret ${s.name}, neither shipped nor documented`);
      if (m && !configMaps.has(m.name)) problems.push(`${where}: ${e.name} reads ConfigMap ${m.name}, not defined`);
    }
  }
}

for (const { where, doc } of docs.filter(d => d.doc.kind === "ConfigMap")) {
  for (const [key, value] of Object.entries(doc.data ?? {}).filter(([k]) => k.endsWith(".conflist"))) {
    try {
      const list = JSON.parse(value);
      if (list.plugins?.[0]?.type !== "fabric" || !list.plugins[0].portGroup) problems.push(`${where}: ${key}: the first plugin must be fabric with a portGroup`);
      if (!["0.4.0", "1.0.0", "1.1.0"].includes(list.cniVersion)) problems.push(`${where}: ${key}: cniVersion ${list.cniVersion} is not one fabric speaks`);
    } catch (e) { problems.push(`${where}: ${key} is not JSON: ${e.message}`); }
  }
}

for (const { where } of docs) console.log(`checked ${where}`);
for (const p of problems) console.error(`PROBLEM ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : `ok: ${docs.length} documents valid`);
process.exit(problems.length ? 1 : 0);
