#!/usr/bin/env bats
# The path routing of the Ingress (k8s/base/ingress.yaml) and of the local
# nginx config (bin/store-nginx-conf, from the service table) agree, and so does
# the compose front server's config (compose/nginx-container), which nginx -t
# accepts.

load 'deploy'

setup_file() {
	"$STORE_ROOT/bin/store-nginx-conf" --var "$BATS_FILE_TMPDIR/var" --port 8080 >"$BATS_FILE_TMPDIR/local.conf"
	"$STORE_ROOT/compose/nginx-container" <"$BATS_FILE_TMPDIR/local.conf" >"$BATS_FILE_TMPDIR/container.conf"
}

# Every service of the Ingress has its row in the table: none is "ahead".
routes() {
	deploy_node routes.mjs "$@"
}

@test "routes: the Ingress routes the same path prefixes to the same services as the local nginx config" {
	run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$STORE_ROOT/k8s/base/ingress.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"/api/users->auth"* ]]
}

@test "routes: the compose front server routes as the local one, to the compose services, and nginx -t accepts it" {
	need nginx
	run routes --nginx "$BATS_FILE_TMPDIR/container.conf" --ingress "$STORE_ROOT/k8s/base/ingress.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	run grep -q 'unix:' "$BATS_FILE_TMPDIR/container.conf"
	[ "$status" -ne 0 ]
	grep -q 'fastcgi_pass \$store_backend;' "$BATS_FILE_TMPDIR/container.conf"
	grep -q 'listen 8080;' "$BATS_FILE_TMPDIR/container.conf"
	# /tmp paths and a pid of our own, so the test does not collide with anything.
	sed -e "s#/tmp/#$BATS_TEST_TMPDIR/#g" -e 's#^error_log stderr#error_log /dev/null#' \
		"$BATS_FILE_TMPDIR/container.conf" >"$BATS_TEST_TMPDIR/n.conf"
	run nginx -e /dev/null -t -c "$BATS_TEST_TMPDIR/n.conf"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "routes: every overlay keeps the base's routing" {
	for o in overlays/dev overlays/prod; do
		run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$(render "$o")"
		echo "$output"
		[ "$status" -eq 0 ]
	done
}

@test "routes: a route missing, extra or to another service fails the comparison" {
	local f="$BATS_TEST_TMPDIR/ingress.yaml" n="$BATS_TEST_TMPDIR/local.conf"
	ing="$STORE_ROOT/k8s/base/ingress.yaml"
	mutate "$ing" 's#path: /api/cart$#path: /api/carts#' "$f"
	run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"the Ingress does not route /api/cart"* ]]
	mutate "$ing" '0,/name: products$/s//name: cart/' "$f"
	run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$f"
	[ "$status" -eq 1 ]
	[[ $output == *"routes /api/categories to products; the Ingress to cart"* ]]
	mutate "$ing" 's#pathType: Prefix#pathType: Exact#' "$f"
	run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$f"
	[ "$status" -eq 1 ]
	mutate "$ing" 's#proxy-body-size: "4m"#proxy-body-size: "1m"#' "$f"
	run routes --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$f"
	[ "$status" -eq 1 ]
	[[ $output == *"client_max_body_size 4m, Ingress proxy-body-size 1m"* ]]
	# A route of the local config the Ingress lacks.
	mutate "$BATS_FILE_TMPDIR/local.conf" 's#location /api/cart/ {#location /api/cart/ {}\n        location = /api/orders {\n            fastcgi_pass store_cart;\n        }\n        location /api/orders/ {#' "$n"
	run routes --nginx "$n" --ingress "$ing"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"routes /api/orders to cart; the Ingress does not route /api/orders"* ]]
	# A service of the table is never "ahead": its routes must all be there.
	run routes --ahead auth,payments,web --nginx "$BATS_FILE_TMPDIR/local.conf" --ingress "$ing"
	[ "$status" -eq 0 ]
}

@test "routes: nginx-container refuses input that is not bin/store-nginx-conf's" {
	run "$STORE_ROOT/compose/nginx-container" <<<'http { server { listen 80; } }'
	[ "$status" -eq 1 ]
	[[ $output == *"not bin/store-nginx-conf output"* ]]
	# An unknown way to reach a program must not slip through unchanged.
	sed 's#fastcgi_pass store_auth;#fastcgi_pass 10.0.0.1:9000;#' "$BATS_FILE_TMPDIR/local.conf" >"$BATS_TEST_TMPDIR/odd.conf"
	cmp -s "$BATS_FILE_TMPDIR/local.conf" "$BATS_TEST_TMPDIR/odd.conf" && return 1
	run "$STORE_ROOT/compose/nginx-container" <"$BATS_TEST_TMPDIR/odd.conf"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"do not pass to a store_NAME upstream"* ]]
	# Nor an upstream that is not a program's unix socket.
	sed 's#server unix:\(.*\)/run/cart.sock;#server 10.0.0.1:9000;#' "$BATS_FILE_TMPDIR/local.conf" >"$BATS_TEST_TMPDIR/odd.conf"
	cmp -s "$BATS_FILE_TMPDIR/local.conf" "$BATS_TEST_TMPDIR/odd.conf" && return 1
	run "$STORE_ROOT/compose/nginx-container" <"$BATS_TEST_TMPDIR/odd.conf"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"each with one 'server unix:VAR/run/NAME.sock;'"* ]]
}
