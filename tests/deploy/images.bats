#!/usr/bin/env bats
# Every image name used in k8s/ (base and both overlays, init containers too),
# compose/ and k8s/skaffold.yaml is one compose/Dockerfile builds (a shipped
# stage: store, store-nginx, store-nats, store-redis), or a pinned upstream
# image listed with its reason in tests/deploy/upstream-images (MongoDB only).

load 'deploy'

setup_file() {
	"$DEPLOY_DIR/install-tools" --check
	need docker-compose
}

# images ARGS...: images.mjs on the Dockerfile, the three renderings of k8s/,
# the compose file (raw and resolved) and skaffold.yaml, plus ARGS.
images() {
	local cfg="$BATS_FILE_TMPDIR/compose-config.yaml"
	[[ -s $cfg ]] || compose_config >"$cfg"
	deploy_node images.mjs --dockerfile "$STORE_ROOT/compose/Dockerfile" \
		--k8s "$(render base)" --k8s "$(render overlays/dev)" --k8s "$(render overlays/prod)" \
		--compose "$STORE_ROOT/compose/compose.yaml" --compose "$cfg" \
		--skaffold "$STORE_ROOT/k8s/skaffold.yaml" "$@"
}

@test "images: every image of k8s/, compose/ and skaffold is built by the Dockerfile or pinned upstream" {
	run images
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"store, store-nginx, store-nats, store-redis"* ]]
	[[ $output == *"mongo:7.0.14"* ]]
}

@test "images: an image the Dockerfile does not build fails" {
	local f="$BATS_TEST_TMPDIR/k8s.yaml"
	mutate "$(render overlays/dev)" 's#image: store-redis$#image: redis:7#' "$f"
	run images --k8s "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"image redis:7 is neither built"* ]]
	mutate "$(render base)" '0,/image: store$/s//image: stor/' "$f"
	run images --k8s "$f"
	[ "$status" -eq 1 ]
	[[ $output == *"image stor is neither built"* ]]
}

@test "images: an upstream image that is not pinned, or listed but unused, fails" {
	local f="$BATS_TEST_TMPDIR/k8s.yaml" up="$BATS_TEST_TMPDIR/upstream"
	printf 'mongo:latest  test\nmongo:7.0.14  test\n' >"$up"
	mutate "$(render base)" '0,/image: mongo:7.0.14$/s//image: mongo:latest/' "$f"
	run images --k8s "$f" --upstream "$up"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"mongo:latest is not pinned"* ]]
	printf 'mongo:7.0.14  test\nnginx:1.27.0  unused\n' >"$up"
	run images --upstream "$up"
	[ "$status" -eq 1 ]
	[[ $output == *"nginx:1.27.0 is listed but used nowhere"* ]]
}

@test "images: a compose service or skaffold artifact built from another stage than its name fails" {
	local f="$BATS_TEST_TMPDIR/compose.yaml" s="$BATS_TEST_TMPDIR/skaffold.yaml"
	mutate "$STORE_ROOT/compose/compose.yaml" '0,/target: store-nats$/s//target: store-redis/' "$f"
	run deploy_node images.mjs --dockerfile "$STORE_ROOT/compose/Dockerfile" --compose "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"is built from stage store-redis"* ]]
	mutate "$STORE_ROOT/k8s/skaffold.yaml" '0,/target: store$/s//target: store-nginx/' "$s"
	run deploy_node images.mjs --dockerfile "$STORE_ROOT/compose/Dockerfile" --skaffold "$s"
	[ "$status" -eq 1 ]
	[[ $output == *"is built from stage store-nginx"* ]]
}
