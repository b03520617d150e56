# stripe.bash - the Stripe emulator (stripe-stateful-mock from tests/package.json)
# for the tests of the Stripe provider, and a slow proxy in front of it
# (tests/lib/slow-stripe.js) for races that need a provider with real latency.
# Load after store.bash:  load '../lib/store'; load '../lib/stripe'.
#
# Globals: MOCK_PORT (the emulator's port), SLOW_PORT (the proxy's), and
# STRIPE_KEY / STRIPE_API_BASE as the store is given them.

MOCK_CLI="$STORE_ROOT/tests/node_modules/stripe-stateful-mock/dist/cli.js"

# mock_start_free: start the emulator on a free port (three tries); exports
# MOCK_PORT.
mock_start_free() {
	if [[ ! -f $MOCK_CLI ]]; then
		echo "stripe-stateful-mock is not installed in tests/node_modules: bin/store-deps --test" >&2
		return 1
	fi
	local try
	for try in 1 2 3; do
		MOCK_PORT=$(free_port)
		mock_start && break
		((try < 3)) || return 1
	done
	export MOCK_PORT
}

# mock_up: the emulator answers its charges API.
mock_up() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u "${STRIPE_KEY:-sk_test_store_bats}:" \
		"http://127.0.0.1:$MOCK_PORT/v1/charges?limit=1") || return 1
	[[ $code == 200 ]]
}

# mock_start: start the emulator on MOCK_PORT, its output appended to
# stripe-mock.log of the file's folder (not the store's), and wait until it
# answers. Fails when it exits first (the port was taken).
mock_start() {
	local log="$BATS_FILE_TMPDIR/stripe-mock.log" pid end
	(
		_close_fds
		PORT=$MOCK_PORT exec node "$MOCK_CLI"
	) </dev/null >>"$log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$BATS_FILE_TMPDIR/stripe-mock.pid"
	end=$((SECONDS + 30))
	until mock_up; do
		if ! _alive "$pid"; then
			echo "mock_start: the emulator exited at start on port $MOCK_PORT:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if ((SECONDS >= end)); then
			echo "mock_start: the emulator did not answer on port $MOCK_PORT within 30s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# mock_stop: stop the emulator (it keeps its charges in memory: they go too)
# and wait until it is gone.
mock_stop() {
	local pid="" end=$((SECONDS + 10))
	read -r pid 2>/dev/null <"$BATS_FILE_TMPDIR/stripe-mock.pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while _alive "$pid"; do
		if ((SECONDS >= end)); then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	rm -f "$BATS_FILE_TMPDIR/stripe-mock.pid"
}

# charges USER [STATUS]: how many charges the emulator holds for USER (the
# store sends metadata[userId]), of STATUS (succeeded, failed) when given.
charges() {
	curl -sf --max-time 10 -u "$STRIPE_KEY:" "http://127.0.0.1:$MOCK_PORT/v1/charges?limit=100" |
		jq -e --arg u "$1" --arg s "${2-}" \
			'[.data[] | select(.metadata.userId == $u and ($s == "" or .status == $s))] | length'
}

# slow_start MS: start tests/lib/slow-stripe.js on a free port in front of the
# emulator, answering after MS milliseconds; exports SLOW_PORT.
slow_start() {
	local log="$BATS_FILE_TMPDIR/slow-stripe.log" pid end
	SLOW_PORT=$(free_port)
	(
		_close_fds
		PORT=$SLOW_PORT TARGET="http://127.0.0.1:$MOCK_PORT" LATENCY_MS=$1 \
			exec node "$STORE_ROOT/tests/lib/slow-stripe.js"
	) </dev/null >>"$log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$BATS_FILE_TMPDIR/slow-stripe.pid"
	export SLOW_PORT
	end=$((SECONDS + 30))
	until curl -s -o /dev/null --max-time 1 -X PUT "http://127.0.0.1:$SLOW_PORT/__latency/$1"; do
		if ! _alive "$pid" || ((SECONDS >= end)); then
			echo "slow_start: the proxy did not answer on port $SLOW_PORT" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# slow_stop: stop the proxy.
slow_stop() {
	local pid=""
	read -r pid 2>/dev/null <"$BATS_FILE_TMPDIR/slow-stripe.pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_until 10 _gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$BATS_FILE_TMPDIR/slow-stripe.pid"
}

_gone() {
	! _alive "$1"
}
