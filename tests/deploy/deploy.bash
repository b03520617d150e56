# deploy.bash - helpers for the deployment tests (tests/deploy/*.bats).
#
# In a .bats file:   load 'deploy'
#
# Everything here is offline: the checks read the files of compose/ and k8s/,
# render the kustomize overlays with kubectl, validate the compose file with
# Debian's docker-compose, and run the container scripts against the store's
# programs of STORE_BUILD on this machine. No Docker engine, no cluster.
#
#   deploy_node SCRIPT ARGS...      node tests/deploy/SCRIPT
#   deploy_kubectl ARGS...          a kubectl whose kustomize is v4+ (install-tools)
#   render DIR                      kubectl kustomize k8s/DIR > $BATS_FILE_TMPDIR/render-NAME.yaml,
#                                   prints that file's path
#   compose_config [ARGS...]        docker-compose config of compose/compose.yaml with
#                                   compose/env.example and a test JWT_KEY
#   service_table                   bin/store-nginx-conf --services into a file, prints its path
#   mutate FILE SED-SCRIPT OUT      OUT is FILE edited by SED-SCRIPT; fails when the
#                                   edit changed nothing (a mutation that no longer
#                                   applies would prove nothing)
#   need CMD...                     fail, naming the Debian package, when CMD is missing
#
# Environment: STORE_BUILD (the build folder whose programs the probe tests run;
# default: the repository's build/), STORE_KUBECTL (a kubectl to use).

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STORE_ROOT=$(cd "$DEPLOY_DIR/../.." && pwd)
export DEPLOY_DIR STORE_ROOT
: "${STORE_BUILD:=$STORE_ROOT/build}"
export STORE_BUILD

# A key only the tests use: 48 characters, never a real secret.
TEST_JWT_KEY=test-only-key-0123456789abcdef0123456789abcdef0
export TEST_JWT_KEY

need() {
	local c pkg
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		case $c in
		docker-compose) pkg=docker-compose ;;
		cgi-fcgi) pkg=libfcgi-bin ;;
		shellcheck) pkg=shellcheck ;;
		mandoc) pkg=mandoc ;;
		*) pkg=$c ;;
		esac
		printf '%s is not installed (Debian package %s; bin/store-deps)\n' "$c" "$pkg" >&2
		return 1
	done
}

deploy_node() {
	local script=$1
	shift
	need node || return 1
	node "$DEPLOY_DIR/$script" "$@"
}

deploy_kubectl() {
	local k
	k=$("$DEPLOY_DIR/install-tools" --path) || {
		printf 'no kubectl with kustomize >= 4: run tests/deploy/install-tools\n' >&2
		return 1
	}
	"$k" "$@"
}

render() {
	local dir=$1 out
	out="$BATS_FILE_TMPDIR/render-${dir//\//-}.yaml"
	if [[ ! -s $out ]]; then
		deploy_kubectl kustomize "$STORE_ROOT/k8s/$dir" >"$out.tmp" || return 1
		mv "$out.tmp" "$out"
	fi
	printf '%s\n' "$out"
}

compose_config() {
	need docker-compose || return 1
	JWT_KEY=${JWT_KEY-$TEST_JWT_KEY} docker-compose --env-file "$STORE_ROOT/compose/env.example" \
		--project-directory "$STORE_ROOT/compose" -f "${COMPOSE_FILE_UNDER_TEST:-$STORE_ROOT/compose/compose.yaml}" \
		config "$@"
}

service_table() {
	local out="$BATS_FILE_TMPDIR/service-table.txt"
	"$STORE_ROOT/bin/store-nginx-conf" --services >"$out" || return 1
	printf '%s\n' "$out"
}

mutate() {
	local file=$1 script=$2 out=$3
	sed -e "$script" "$file" >"$out" || return 1
	if cmp -s "$file" "$out"; then
		printf 'mutation %s changed nothing in %s\n' "$script" "$file" >&2
		return 1
	fi
}

# free_port: a TCP port on 127.0.0.1 that nothing uses now.
free_port() {
	"$STORE_ROOT/bin/store-run" --free-port
}
