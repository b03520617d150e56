#!/usr/bin/env bats
# The scripts the images run, against the store's real programs on this
# machine (STORE_BUILD): compose/store-probe (the FastCGI, process, bus and HTTP
# probes of compose and Kubernetes) and compose/store-entrypoint. The programs
# listen on TCP as in a container (STORE_LISTEN=0.0.0.0:PORT).

load 'deploy'

PROBE=$STORE_ROOT/compose/store-probe
ENTRY=$STORE_ROOT/compose/store-entrypoint
KEY=probe-test-key-0123456789abcdef0123456789

setup() {
	need cgi-fcgi
	[ -x "$STORE_BUILD/bin/store-auth" ] || { echo "no build in $STORE_BUILD (make)"; return 1; }
	pids=()
}

teardown() {
	local p
	for p in "${pids[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# start NAME ENV... : run program NAME of the build with ENV in the background.
start() {
	local name=$1
	shift
	env "$@" "$STORE_BUILD/bin/$name" >>"$BATS_TEST_TMPDIR/$name.log" 2>&1 &
	pids+=($!)
	last_pid=$!
}

# wait_for CMD...: until CMD succeeds, 10 seconds at most.
wait_for() {
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@"
}

@test "probe: fcgi /healthz and /readyz answer 200 from a FastCGI program listening on 0.0.0.0:PORT" {
	port=$(free_port)
	start store-auth STORE_LISTEN="0.0.0.0:$port" STORE_DB="sqlite:$BATS_TEST_TMPDIR/auth.db" JWT_KEY="$KEY"
	export STORE_LISTEN="0.0.0.0:$port"
	wait_for "$PROBE" fcgi /healthz
	run "$PROBE" fcgi /readyz
	echo "$output"
	[ "$status" -eq 0 ]
	run "$PROBE" auto
	[ "$status" -eq 0 ]
	# The program logged the probes under request ids that name them.
	grep -q '"req_id":"probe-healthz"' "$BATS_TEST_TMPDIR/store-auth.log"
	grep -q '"req_id":"probe-readyz"' "$BATS_TEST_TMPDIR/store-auth.log"
	# An explicit address wins over STORE_LISTEN.
	STORE_LISTEN= run "$PROBE" fcgi /healthz "127.0.0.1:$port"
	[ "$status" -eq 0 ]
}

@test "probe: fcgi /readyz fails with the program's reason when a dependency is down; /healthz still passes" {
	port=$(free_port)
	dead=$(free_port)
	start store-products STORE_LISTEN="0.0.0.0:$port" STORE_DB="sqlite:$BATS_TEST_TMPDIR/products.db" \
		JWT_KEY="$KEY" NATS_URL="nats://127.0.0.1:$dead"
	export STORE_LISTEN="0.0.0.0:$port"
	wait_for "$PROBE" fcgi /healthz
	run "$PROBE" fcgi /readyz
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"Status: 503"* ]]
	[[ $output == *nats* ]]
}

@test "probe: a stopped or gone program fails its probes" {
	port=$(free_port)
	start store-cart STORE_LISTEN="0.0.0.0:$port" STORE_DB="sqlite:$BATS_TEST_TMPDIR/cart.db" \
		JWT_KEY="$KEY" NATS_URL="nats://127.0.0.1:$(free_port)"
	pid=$last_pid
	export STORE_LISTEN="0.0.0.0:$port"
	wait_for "$PROBE" fcgi /healthz
	run "$PROBE" process store-cart
	[ "$status" -eq 0 ]
	kill -STOP "$pid"
	run "$PROBE" process store-cart
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"is stopped"* ]]
	STORE_PROBE_TIMEOUT=1 run "$PROBE" fcgi /healthz
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"no answer"* ]]
	# Gone: crashed (KILL, no clean stop to wait for).
	kill -KILL "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	run "$PROBE" fcgi /healthz
	echo "$output"
	[ "$status" -eq 1 ]
	run "$PROBE" process store-cart-not-running
	[ "$status" -eq 1 ]
	[[ $output == *"no process named"* ]]
}

@test "probe: connected NATS_URL follows a daemon's connection to nats-server; http asks the monitor" {
	need nats-server
	nport=$(free_port)
	mport=$(free_port)
	mkdir -p "$BATS_TEST_TMPDIR/js"
	nats-server -js -sd "$BATS_TEST_TMPDIR/js" -a 127.0.0.1 -p "$nport" -m "$mport" >"$BATS_TEST_TMPDIR/nats.log" 2>&1 &
	pids+=($!)
	nats_pid=$!
	wait_for "$PROBE" http "127.0.0.1:$mport" /healthz
	run "$PROBE" http "127.0.0.1:$mport" /nowhere
	[ "$status" -eq 1 ]
	[[ $output == *404* ]]
	export NATS_URL="nats://127.0.0.1:$nport"
	start cartd STORE_DB="sqlite:$BATS_TEST_TMPDIR/cart.db" NATS_URL="$NATS_URL"
	wait_for "$PROBE" connected NATS_URL
	run "$PROBE" process cartd
	[ "$status" -eq 0 ]
	# A list of servers: any one connected will do.
	NATS_URL="nats://127.0.0.1:$(free_port),nats://user:pw@127.0.0.1:$nport" run "$PROBE" connected NATS_URL
	[ "$status" -eq 0 ]
	kill "$nats_pid"
	wait_for bash -c "! '$PROBE' connected NATS_URL"
	run "$PROBE" connected NATS_URL
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"no established connection to NATS_URL"* ]]
}

@test "probe: bad usage is exit status 64" {
	run "$PROBE"
	[ "$status" -eq 64 ]
	run "$PROBE" fcgi healthz
	[ "$status" -eq 64 ]
	STORE_LISTEN= run "$PROBE" fcgi /healthz
	[ "$status" -eq 64 ]
	run "$PROBE" connected PATH
	[ "$status" -eq 64 ]
	STORE_PROBE_TIMEOUT=0 run "$PROBE" auto
	[ "$status" -eq 64 ]
	run "$PROBE" --help
	[ "$status" -eq 0 ]
	[[ $output == *"Usage: store-probe fcgi PATH"* ]]
}

@test "entrypoint: runs a program of the image by name, and nothing else" {
	export STORE_SBIN=$STORE_BUILD/bin
	run "$ENTRY" --help
	[ "$status" -eq 0 ]
	[[ $output == *store-auth* ]]
	[[ $output == *expirerd* ]]
	run "$ENTRY" store-auth --help
	[ "$status" -eq 0 ]
	[[ $output == *"usage: store-auth"* ]]
	# The program replaces the script: same pid, signals go to the program.
	port=$(free_port)
	STORE_LISTEN="127.0.0.1:$port" STORE_DB="sqlite:$BATS_TEST_TMPDIR/e.db" JWT_KEY="$KEY" \
		"$ENTRY" store-auth >"$BATS_TEST_TMPDIR/e.log" 2>&1 &
	pids+=($!)
	epid=$!
	STORE_LISTEN="127.0.0.1:$port" wait_for "$PROBE" fcgi /healthz
	[ "$(cat "/proc/$epid/comm")" = store-auth ]
	kill -TERM "$epid"
	wait "$epid"
	grep -q 'stopping on signal 15' "$BATS_TEST_TMPDIR/e.log"
	run "$ENTRY" no-such-program
	[ "$status" -eq 64 ]
	[[ $output == *'unknown program "no-such-program"'* ]]
	run "$ENTRY" ../bin/sh
	[ "$status" -eq 64 ]
	run "$ENTRY" /bin/sh
	[ "$status" -eq 64 ]
}
