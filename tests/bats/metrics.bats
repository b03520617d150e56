#!/usr/bin/env bats
# /metrics (docs/METRICS.md): the whole store started with STORE_METRICS=1,
# so that bin/store-run gives every program and daemon its own
# STORE_METRICS_LISTEN port; each is scraped with curl and checked with a
# strict parser of Prometheus's text format (tests/lib/prom-check.js). The
# figures must move with what happens: requests counted by route pattern,
# the outbox backlog while NATS is down, a durable's lag while its daemon is
# down, a dead letter, an expired hold in the expirer's lateness histogram.
# Each test polls (wait_until, bounded); none sleeps.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'

setup_file() {
	export STORE_METRICS=1 STORE_HOLD_SECONDS=2 STORE_JOB_LEASE_MS=2000
	store_start
}

teardown_file() {
	store_stop
}

# A test that stops processes starts them again; if it failed half-way, this
# puts the store back for the next test.
teardown() {
	local name pid
	[[ ! -e $STORE_VAR/stopped ]] || return 0
	for name in nats cartd; do
		pid=$(cat "$STORE_VAR/run/$name.pid" 2>/dev/null) || pid=""
		if [[ -z $pid ]] || ! _alive "$pid"; then
			svc_start "$name"
		fi
	done
}

# metrics_addr NAME: host:port of NAME's /metrics (DIR/run/metrics).
metrics_addr() {
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' "$STORE_VAR/run/metrics"
}

# scrape NAME: NAME's /metrics into $BATS_TEST_TMPDIR/NAME.prom, checked by
# prom-check.js; fails on any other status or an invalid exposition.
scrape() {
	local addr out="$BATS_TEST_TMPDIR/$1.prom" code
	addr=$(metrics_addr "$1") || return 1
	code=$(curl -sS --max-time 20 -o "$out" -w '%{http_code}' "http://$addr/metrics") || return 1
	if [[ $code != 200 ]]; then
		echo "GET http://$addr/metrics: $code" >&2
		return 1
	fi
	node "$STORE_ROOT/tests/lib/prom-check.js" "$out"
}

# lacks PATTERN FILE: FILE has no line matching PATTERN (grep -E).
lacks() {
	if grep -E -- "$1" "$2"; then
		echo "$2 has a line matching '$1'" >&2
		return 1
	fi
}

# metric NAME SERIES: the value of SERIES (exactly as rendered: name and
# labels) in a new scrape of NAME; 0 when absent (a counter not yet counted).
metric() {
	scrape "$1" || return 1
	awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }' "$BATS_TEST_TMPDIR/$1.prom"
}

# metric_is NAME SERIES OP N: SERIES compared with N (-eq, -ge, ...); for wait_until.
metric_is() {
	local v
	v=$(metric "$1" "$2") || return 1
	if ! [ "${v%.*}" "$3" "$4" ]; then
		echo "$2 of $1 is $v, not $3 $4" >&2
		return 1
	fi
}

@test "STORE_METRICS=1: every program and daemon has a port of its own, listed and printed" {
	local names n ports
	names=$(awk '{ print $1 }' "$STORE_VAR/run/metrics" | sort | tr '\n' ' ')
	[[ $names == "auth cart cartd expirerd payments paymentsd products productsd web " ]]
	n=$(wc -l <"$STORE_VAR/run/metrics")
	ports=$(awk '{ print $2 }' "$STORE_VAR/run/metrics" | sort -u | wc -l)
	((n == ports))
	grep -q "^store: metrics products http://$(metrics_addr products)/metrics$" "$STORE_VAR/store-run.out"
	grep -q "^STORE_METRICS_LISTEN=$(metrics_addr cartd)$" "$STORE_VAR/run/cartd.env"
}

@test "every /metrics is a valid exposition with HELP and TYPE, and the families of its program" {
	local name f
	for name in auth products cart payments web productsd cartd paymentsd expirerd; do
		scrape "$name"
		f="$BATS_TEST_TMPDIR/$name.prom"
		grep -q '^# HELP process_start_time_seconds ' "$f"
		grep -q '^# TYPE process_start_time_seconds gauge$' "$f"
		grep -Eq '^process_start_time_seconds [0-9.e+]+$' "$f"
	done
	for name in auth products cart payments web; do
		grep -q '^# TYPE store_http_requests_total counter$' "$BATS_TEST_TMPDIR/$name.prom"
		grep -q '^# TYPE store_http_request_duration_seconds histogram$' "$BATS_TEST_TMPDIR/$name.prom"
		lacks 'store_expirer' "$BATS_TEST_TMPDIR/$name.prom"
	done
	for name in auth products cart payments productsd cartd paymentsd; do
		grep -Eq '^store_outbox_backlog [0-9]+$' "$BATS_TEST_TMPDIR/$name.prom"
	done
	lacks store_outbox_backlog "$BATS_TEST_TMPDIR/web.prom"
	for name in productsd cartd paymentsd expirerd; do
		grep -q '^# TYPE store_dead_letters_total counter$' "$BATS_TEST_TMPDIR/$name.prom"
		grep -q '^# TYPE store_consumer_lag gauge$' "$BATS_TEST_TMPDIR/$name.prom"
		lacks store_http_requests_total "$BATS_TEST_TMPDIR/$name.prom"
	done
	# Each daemon reports its own durables, one series each.
	grep -Eq '^store_consumer_lag\{durable="cart-product-created"\} [0-9]+$' "$BATS_TEST_TMPDIR/cartd.prom"
	grep -Eq '^store_consumer_ack_pending\{durable="cart-payment-created"\} [0-9]+$' "$BATS_TEST_TMPDIR/cartd.prom"
	grep -Eq '^store_consumer_lag\{durable="expiration-product-selected"\} [0-9]+$' "$BATS_TEST_TMPDIR/expirerd.prom"
	lacks 'durable="cart-' "$BATS_TEST_TMPDIR/productsd.prom"
	grep -q '^# TYPE store_expirer_lateness_seconds histogram$' "$BATS_TEST_TMPDIR/expirerd.prom"
	grep -q '^store_expirer_lateness_seconds_bucket{le="+Inf"} ' "$BATS_TEST_TMPDIR/expirerd.prom"
}

@test "a request counts under its route pattern, method and status; unknown paths as unmatched" {
	local list one miss item
	as seller signup
	as seller make_category
	list="store_http_requests_total{route=\"/api/categories\",method=\"GET\",status=\"200\"}"
	one="store_http_requests_total{route=\"/api/products/:catId\",method=\"GET\",status=\"200\"}"
	miss="store_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
	item="store_http_request_duration_seconds_count{route=\"/api/products/:catId\"}"
	local l0 o0 m0 i0
	l0=$(metric products "$list")
	o0=$(metric products "$one")
	m0=$(metric products "$miss")
	i0=$(metric products "$item")
	api GET /api/categories
	expect_status 200
	api GET /api/categories
	expect_status 200
	api GET "/api/products/$category_id"
	expect_status 200
	api GET /api/products/no/such/path
	expect_status 404
	[[ $(metric products "$list") == $((l0 + 2)) ]]
	[[ $(metric products "$one") == $((o0 + 1)) ]]
	[[ $(metric products "$miss") == $((m0 + 1)) ]]
	[[ $(metric products "$item") == $((i0 + 1)) ]]
	# The pattern, never the raw path: the category id is in no label.
	lacks "$category_id" "$BATS_TEST_TMPDIR/products.prom"
	# Another program counts its own requests only.
	scrape cart
	lacks 'route="/api/categories"' "$BATS_TEST_TMPDIR/cart.prom"
}

@test "the outbox backlog rises while NATS is down and drains when it is back" {
	as seller signup
	as seller make_category
	wait_until "$EVENT_WAIT" metric_is products store_outbox_backlog -eq 0
	nats_stop
	as seller make_product "$category_id" 5 3
	as seller make_product "$category_id" 6 3
	wait_until "$EVENT_WAIT" metric_is products store_outbox_backlog -ge 2
	# productsd shares the products database: it sees the same rows.
	metric_is productsd store_outbox_backlog -ge 2
	nats_start
	wait_until "$EVENT_WAIT" metric_is products store_outbox_backlog -eq 0
}

@test "a durable's lag rises while its daemon is down (seen by its service's program) and falls when it is back" {
	local lag='store_consumer_lag{durable="cart-product-created"}'
	as seller signup
	as seller make_category
	wait_until "$EVENT_WAIT" metric_is cart "$lag" -eq 0
	svc_stop cartd
	as seller make_product "$category_id" 5 3
	as seller make_product "$category_id" 6 3
	as seller make_product "$category_id" 7 3
	wait_until "$EVENT_WAIT" metric_is cart "$lag" -ge 3
	svc_start cartd
	wait_until "$EVENT_WAIT" metric_is cartd "$lag" -eq 0
	metric_is cart "$lag" -eq 0
}

@test "a dead-lettered event counts in store_dead_letters_total of its durable" {
	local dead='store_dead_letters_total{durable="cart-product-updated"}' d0
	d0=$(metric cartd "$dead")
	publish store.product.updated 'not json' --id "$(oid)"
	wait_until "$EVENT_WAIT" metric_is cartd "$dead" -eq $((d0 + 1))
	# Only the daemon that dead-lettered it counts it.
	[[ $(metric productsd "$dead") == 0 ]]
}

@test "an expired hold shows in the expirer's lateness histogram and jobs fired" {
	local count='store_expirer_lateness_seconds_count' fired='store_expirer_jobs_fired_total' c0 f0
	c0=$(metric expirerd "$count")
	f0=$(metric expirerd "$fired")
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 5 3
	as buyer signup
	as buyer add_to_cart "$product_id" "$category_id"
	wait_until "$EVENT_WAIT" metric_is expirerd "$count" -ge $((c0 + 1))
	metric_is expirerd "$fired" -ge $((f0 + 1))
	# Cumulative buckets up to +Inf, which equals _count (prom-check.js).
	[[ $(metric expirerd 'store_expirer_lateness_seconds_bucket{le="+Inf"}') == \
		$(metric expirerd "$count") ]]
	grep -Eq '^store_expirer_lateness_seconds_sum [0-9.e+-]+$' "$BATS_TEST_TMPDIR/expirerd.prom"
}

@test "the metrics port: 404 for another path, 405 for another method, HEAD without a body" {
	local addr
	addr=$(metrics_addr auth)
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$addr/other") == 404 ]]
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$addr/") == 404 ]]
	[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$addr/metrics") == 405 ]]
	curl -s -D "$BATS_TEST_TMPDIR/h" -o /dev/null -X DELETE "http://$addr/metrics"
	grep -qi '^Allow: GET, HEAD' "$BATS_TEST_TMPDIR/h"
	curl -s -I "http://$addr/metrics" >"$BATS_TEST_TMPDIR/head"
	grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/head"
	grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$BATS_TEST_TMPDIR/head"
	# A client that never ends its request is dropped after 5 s; the port
	# then serves the next one.
	exec 5<>"/dev/tcp/${addr%:*}/${addr##*:}"
	printf 'GET /metrics HTTP/1.1\r\nX: ' >&5
	scrape auth
	exec 5>&-
}

# run_with NAME VAR=VALUE...: NAME's program with its environment from
# bin/store-run, changed by the given variables; status and output in
# $status and $output (stderr included), at most 20 s.
run_with() {
	local name=$1 line
	shift
	local -a envs=() cmd=()
	while IFS= read -r line; do
		[[ -n $line && $line != \#* ]] || continue
		envs+=("$line")
	done <"$STORE_VAR/run/$name.env"
	eval "cmd=($(<"$STORE_VAR/run/$name.cmd"))"
	run timeout 20 env "${envs[@]}" "$@" "${cmd[@]}"
}

@test "a malformed STORE_METRICS_LISTEN is a configuration error: exit 78 naming it" {
	local name bad
	for name in auth cartd expirerd web; do
		for bad in nonsense 127.0.0.1 127.0.0.1:70000 :9464; do
			run_with "$name" STORE_LISTEN="$BATS_TEST_TMPDIR/x.sock" STORE_METRICS_LISTEN="$bad"
			[[ $status == 78 ]] || { echo "$name with '$bad': $status: $output"; return 1; }
			[[ $output == *"STORE_METRICS_LISTEN"* ]]
		done
	done
	STORE_METRICS_LISTEN=127.0.0.1:9464 run "$STORE_ROOT/bin/store-run" --var "$BATS_TEST_TMPDIR/v"
	[[ $status == 78 && $output == *"STORE_METRICS=1"* ]]
	STORE_METRICS=yes run "$STORE_ROOT/bin/store-run" --var "$BATS_TEST_TMPDIR/v"
	[[ $status == 64 ]]
}

@test "a metrics port that is taken: the program exits 69 saying it cannot listen" {
	local taken
	taken=$(metrics_addr products)
	run_with auth STORE_LISTEN="$BATS_TEST_TMPDIR/a.sock" STORE_DB="sqlite:$BATS_TEST_TMPDIR/a.db" \
		STORE_METRICS_LISTEN="$taken"
	[[ $status == 69 && $output == *"cannot listen on '$taken'"* ]]
	run_with cartd STORE_DB="sqlite:$BATS_TEST_TMPDIR/c.db" STORE_METRICS_LISTEN="$taken"
	[[ $status == 69 && $output == *"cannot listen on '$taken'"* ]]
	# The store's own program still serves its metrics.
	scrape products
}

# --- file-wide checks: keep this last ------------------------------------------

@test "the store stops cleanly: no process died on its own, none is left, no sanitizer report" {
	store_stop
}
