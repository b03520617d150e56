#!/usr/bin/env bats
# The Kubernetes manifests (k8s/), offline: every file and both overlays
# validate against the API schemas of a current Kubernetes release
# (k8s-validate.mjs), the overlays render with kustomize, keep the store's
# rules, and say what they promise; and the validation fails on broken files.

load 'deploy'

setup_file() {
	"$DEPLOY_DIR/install-tools" --check
}

validate() { deploy_node k8s-validate.mjs "$@"; }

@test "k8s: every YAML file under k8s/ is a kustomize resource, patch or kustomization" {
	run deploy_node k8s-files.mjs check
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "k8s: every manifest file validates against the Kubernetes API schemas" {
	mapfile -t files < <(deploy_node k8s-files.mjs resources)
	((${#files[@]} >= 20))
	cd "$STORE_ROOT"
	run validate "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"objects valid"* ]]
}

@test "k8s: the base renders and keeps the store's rules" {
	out=$(render base)
	run validate --policy --namespace store --table "$(service_table)" "$out"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "k8s: the dev overlay renders, validates and keeps the store's rules" {
	out=$(render overlays/dev)
	run validate --policy --namespace store --root-init hostpath-owner --table "$(service_table)" "$out"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "k8s: the prod overlay renders, validates and keeps the store's rules" {
	out=$(render overlays/prod)
	run validate --policy --namespace store --table "$(service_table)" "$out"
	echo "$output"
	[ "$status" -eq 0 ]
}

# inventory FILE: "Kind name replicas" of every object of a rendering, once.
inventory() {
	[[ -s $1.inv ]] || deploy_node - "$1" >"$1.inv" <<'EOF'
import { readFileSync } from "node:fs";
import { YAML } from "./lib.mjs";
for (const d of YAML.parseAllDocuments(readFileSync(process.argv[2], "utf8"))) {
  const o = d.toJS();
  if (o) console.log(o.kind, o.metadata.name, o.spec?.replicas ?? "-");
}
EOF
	cat "$1.inv"
}

# kinds FILE KIND: "name replicas" of each object of KIND in a rendering.
kinds() {
	inventory "$1" | sed -n "s/^$2 //p"
}

deploy_node() {
	local script=$1
	shift
	if [[ $script == - ]]; then
		(cd "$DEPLOY_DIR" && node --input-type=module - "$@")
	else
		node "$DEPLOY_DIR/$script" "$@"
	fi
}

@test "k8s: base has per FastCGI program a Deployment, Service, autoscaler and PDB, per daemon a Deployment and PDB" {
	out=$(render base)
	for svc in auth products cart payments web; do
		kinds "$out" Deployment | grep -qx "$svc -"     # replicas left to the autoscaler
		kinds "$out" Service | grep -q "^$svc "
		kinds "$out" HorizontalPodAutoscaler | grep -q "^$svc "
		kinds "$out" PodDisruptionBudget | grep -q "^$svc "
	done
	for d in productsd cartd paymentsd expirerd; do
		kinds "$out" Deployment | grep -qx "$d 2"
		kinds "$out" PodDisruptionBudget | grep -q "^$d "
		if kinds "$out" Service | grep -q "^$d "; then return 1; fi
	done
}

@test "k8s: base runs NATS as a 3-node StatefulSet, Redis with a volume, a 3-member replica set per service database" {
	out=$(render base)
	kinds "$out" StatefulSet | grep -qx 'nats 3'
	kinds "$out" StatefulSet | grep -qx 'redis 1'
	for db in auth products cart payments; do
		kinds "$out" StatefulSet | grep -qx "mongo-$db 3"
		kinds "$out" Job | grep -q "^mongo-$db-init "
	done
	# The cluster routes name every member, through the headless Service.
	for i in 0 1 2; do grep -q "nats://nats-$i.nats-cluster:6222" "$out"; done
	grep -q 'appendonly yes' "$STORE_ROOT/compose/redis.conf"
	grep -q 'jetstream' "$out"
}

@test "k8s: the dev overlay has one of each, no autoscaler, host-path volumes for every claim" {
	out=$(render overlays/dev)
	run kinds "$out" Deployment
	[ "${#lines[@]}" -eq 9 ]
	for l in "${lines[@]}"; do [[ $l == *" 1" ]]; done
	run kinds "$out" StatefulSet
	[ "${#lines[@]}" -eq 6 ]
	for l in "${lines[@]}"; do [[ $l == *" 1" ]]; done
	[ -z "$(kinds "$out" HorizontalPodAutoscaler)" ]
	# One host-path PersistentVolume per claim, bound by claimRef (the
	# validator checks each names a claim of a StatefulSet).
	run kinds "$out" PersistentVolume
	[ "${#lines[@]}" -eq 6 ]
	grep -q 'path: /var/lib/store-dev/data-mongo-auth-0' "$out"
	grep -q 'host: store.localhost' "$out"
	grep -q 'value: sandbox' "$out"
	# No cluster block for the single NATS server.
	if grep -q 'nats-cluster:6222' "$out"; then return 1; fi
}

@test "k8s: the prod overlay serves https with autoscaling and names the registry's images" {
	out=$(render overlays/prod)
	grep -q 'secretName: store-tls' "$out"
	grep -q 'STORE_ORIGIN: https://' "$out"
	grep -q 'STORE_COOKIE_SECURE: "true"' "$out"
	grep -q 'value: stripe' "$out"
	[ "$(kinds "$out" HorizontalPodAutoscaler | wc -l)" -eq 5 ]
	grep -q 'image: registry.example.com/store:' "$out"
	if grep -q 'image: store$' "$out"; then return 1; fi
	kinds "$out" StatefulSet | grep -qx 'nats 3'
}

@test "k8s: no Secret and no secret value is committed under k8s/ or compose/" {
	cd "$STORE_ROOT"
	if grep -rEn '^kind: Secret' k8s compose; then return 1; fi
	# Keys are referred to, never given (env.example leaves them empty).
	if grep -rEn --exclude=.env '(JWT_KEY|STRIPE_KEY)[=:] *[A-Za-z0-9+/_-]{8,}' k8s compose; then return 1; fi
	if grep -rEn --exclude=.env 'sk_(live|test)_[A-Za-z0-9]' k8s compose; then return 1; fi
}

@test "k8s: the MongoDB init script is valid bash" {
	need shellcheck
	out=$(render base)
	deploy_node - "$out" >"$BATS_TEST_TMPDIR/mongo-rs-init" <<'EOF'
import { readFileSync } from "node:fs";
import { YAML } from "./lib.mjs";
for (const d of YAML.parseAllDocuments(readFileSync(process.argv[2], "utf8"))) {
  const o = d.toJS();
  if (o?.kind === "ConfigMap" && o.metadata.name === "mongo-init") process.stdout.write(o.data["mongo-rs-init"]);
}
EOF
	[ -s "$BATS_TEST_TMPDIR/mongo-rs-init" ]
	bash -n "$BATS_TEST_TMPDIR/mongo-rs-init"
	shellcheck -s bash "$BATS_TEST_TMPDIR/mongo-rs-init"
}

# ---- the validation fails on broken manifests ------------------------------

# broken_file FILE SED-SCRIPT WANT [strict]: FILE edited by SED-SCRIPT fails
# validation, with WANT in the message. Without "strict", the slow unknown-field
# check is left out, so the failure must come from the schemas or the names.
broken_file() {
	local f="$BATS_TEST_TMPDIR/broken.yaml" opts=(--no-strict)
	[[ ${4:-} == strict ]] && opts=()
	mutate "$STORE_ROOT/$1" "$2" "$f"
	run validate "${opts[@]}" "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$3"* ]]
}

@test "k8s: a misspelt field fails validation (strict, as the API server's field validation)" {
	broken_file k8s/base/auth.yaml 's/livenessProbe:/livenesProbe:/' 'livenesProbe' strict
	broken_file k8s/base/nats.yaml 's/volumeClaimTemplates:/volumeClaimTemplate:/' 'volumeClaimTemplate' strict
	broken_file k8s/base/ingress.yaml 's/pathType: Prefix/pathtype: Prefix/' 'pathtype' strict
}

@test "k8s: a wrong type, a missing required field, an unknown kind or a retired API fails validation" {
	broken_file k8s/base/auth.yaml 's/containerPort: 9000/containerPort: "9000"/' 'must be integer'
	broken_file k8s/base/auth.yaml 's/value: "0.0.0.0:9000"/value: on/' 'must be string'
	broken_file k8s/base/cartd.yaml '/^  selector:$/,/^      app.kubernetes.io\/name: cartd$/d' 'selector'
	broken_file k8s/base/redis.yaml 's/^kind: StatefulSet/kind: StatefullSet/' 'not a kind'
	broken_file k8s/base/auth.yaml 's#^apiVersion: policy/v1#apiVersion: policy/v1beta1#' 'alpha or beta'
	broken_file k8s/base/auth.yaml 's#^apiVersion: autoscaling/v2#apiVersion: autoscaling/v2beta2#' 'alpha or beta'
}

@test "k8s: bad YAML and names the API server refuses fail validation" {
	broken_file k8s/base/auth.yaml 's/^  revisionHistoryLimit: 5/  revisionHistoryLimit: 5\n  revisionHistoryLimit: 6/' 'unique'
	broken_file k8s/base/auth.yaml 's/^  selector:/\tselector:/' 'Tabs'
	broken_file k8s/base/cart.yaml 's/^  name: cart$/  name: Cart_Service/' 'not a valid'
	broken_file k8s/base/products.yaml 's/- name: fastcgi$/- name: fastcgi-protocol-port/' 'port name'
}

# broken_overlay FILE SED-SCRIPT OVERLAY WANT: the k8s tree with FILE edited
# renders (or not), and the rendering of OVERLAY fails the store's rules.
broken_overlay() {
	local tree="$BATS_TEST_TMPDIR/k8s" out="$BATS_TEST_TMPDIR/render.yaml" opts=()
	rm -rf "$tree"
	cp -r "$STORE_ROOT/k8s" "$tree"
	mutate "$STORE_ROOT/k8s/$1" "$2" "$tree/$1"
	[[ $3 == overlays/dev ]] && opts=(--root-init hostpath-owner)
	if ! deploy_kubectl kustomize "$tree/$3" >"$out" 2>"$out.err"; then
		cat "$out.err"
		[[ $(cat "$out.err") == *"$4"* ]]
		return 0
	fi
	run validate --no-strict --policy --namespace store "${opts[@]}" "$out"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$4"* ]]
}

@test "k8s: broken store rules fail: security context, resources, probes" {
	broken_overlay base/cart.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' overlays/prod 'read-only'
	broken_overlay base/cart.yaml '/drop: \["ALL"\]/d' overlays/prod 'drop ALL'
	broken_overlay base/auth.yaml 's/runAsUser: 10001/runAsUser: 0/' overlays/prod 'non-root'
	broken_overlay base/cartd.yaml '/^          limits:/,/^            memory: 128Mi/d' overlays/dev 'resources.limits'
	broken_overlay base/auth.yaml 's#command: \["store-probe", "fcgi", "/readyz"\]#command: ["store-probe", "fcgi", "/healthz"]#' overlays/prod 'readinessProbe'
	broken_overlay base/payments.yaml 's#^          exec:#          httpGet: {path: /healthz, port: 9000}\n          exec:#' overlays/prod 'not an exec probe'
	broken_overlay base/expirerd.yaml 's/\["store-probe", "process", "expirerd"\]/["store-probe", "process", "cartd"]/' overlays/dev 'store-probe process expirerd'
}

@test "k8s: broken metrics fail: scrape annotations, the metrics port, STORE_METRICS_LISTEN" {
	broken_overlay base/cart.yaml '/prometheus.io\/scrape/d' overlays/prod 'prometheus.io/scrape'
	broken_overlay base/cartd.yaml 's/prometheus.io\/port: "9464"/prometheus.io\/port: "9000"/' overlays/prod 'prometheus.io/scrape'
	broken_overlay base/expirerd.yaml 's/containerPort: 9464/containerPort: 9465/' overlays/dev 'metrics port'
	broken_overlay base/config.yaml 's/STORE_METRICS_LISTEN: "0.0.0.0:9464"/STORE_METRICS_LISTEN: "127.0.0.1:9464"/' overlays/prod 'STORE_METRICS_LISTEN'
	broken_overlay base/productsd.yaml 's/- name: metrics/- name: http/' overlays/prod 'a port other than metrics'
}

@test "k8s: broken references fail: Service ports, Ingress backends, selectors, Secrets, ConfigMaps" {
	broken_overlay base/cart.yaml 's/targetPort: fastcgi/targetPort: fcgi/' overlays/prod 'no selected container has port fcgi'
	broken_overlay base/ingress.yaml 's/name: payments$/name: payment/' overlays/prod 'no Service payment'
	broken_overlay base/productsd.yaml '/^    matchLabels:$/{n;s/productsd/productd/;}' overlays/prod 'selector does not match'
	broken_overlay base/auth.yaml 's/name: store-jwt/name: jwt-secret/' overlays/prod 'not one of the documented Secrets'
	broken_overlay base/web.yaml 's/name: store-env/name: store-envs/' overlays/prod 'no ConfigMap store-envs'
	broken_overlay base/nats.yaml 's/serviceName: nats-cluster/serviceName: nats/' overlays/prod 'headless'
	broken_overlay base/config.yaml 's/^kind: ConfigMap/kind: Secret/' base 'a Secret in the manifests'
}

@test "k8s: broken overlays fail: replica set and init Job disagree, unbound host path, autoscaled replicas" {
	broken_overlay overlays/dev/kustomization.yaml '0,/value: "1"/s//value: "3"/' overlays/dev 'initiates 3'
	broken_overlay overlays/dev/hostpath-volumes.yaml 's/name: data-redis-0/name: data-redis-1/' overlays/dev 'claimRef data-redis-1'
	broken_overlay base/web.yaml 's/^  revisionHistoryLimit: 5/  replicas: 3\n  revisionHistoryLimit: 5/' overlays/prod 'fights the autoscaler'
	broken_overlay overlays/prod/kustomization.yaml 's/- path: prod-settings.yaml/- path: prod-setting.yaml/' overlays/prod 'prod-setting.yaml'
}
