#!/usr/bin/env bats
# Every program refuses to start, naming the setting, when one is missing or
# malformed (exit 78), and answers --help on stdout.

load '../lib/store'

programs() {
	local p
	for p in "$STORE_BUILD"/bin/store-* "$STORE_BUILD"/bin/*d; do
		[[ -x $p ]] && printf '%s\n' "${p##*/}"
	done
}

@test "every program prints its usage with --help and exits 0" {
	local p n=0
	for p in $(programs); do
		run "$STORE_BUILD/bin/$p" --help
		[[ $status == 0 ]] || { echo "$p --help exited $status" >&2; return 1; }
		[[ $output == *"usage: $p"* ]] || { echo "$p --help: $output" >&2; return 1; }
		n=$((n + 1))
	done
	((n >= 8))
}

@test "an unknown option is a usage error (64)" {
	local p
	for p in $(programs); do
		run "$STORE_BUILD/bin/$p" --frobnicate
		[[ $status == 64 ]] || { echo "$p exited $status" >&2; return 1; }
	done
}

@test "a missing STORE_DB is named and stops the program with 78" {
	local p
	for p in store-auth store-products store-cart store-payments productsd cartd paymentsd; do
		run env -i PATH="$PATH" STORE_LISTEN="$BATS_TEST_TMPDIR/$p.sock" \
			JWT_KEY=0123456789abcdef0123456789abcdef "$STORE_BUILD/bin/$p"
		[[ $status == 78 ]] || { echo "$p exited $status: $output" >&2; return 1; }
		[[ $output == *"'STORE_DB'"* ]] || { echo "$p: $output" >&2; return 1; }
	done
}

# Starts program $1 (more settings or a command prefix after it: "taskset
# -c 0"), prints the worker count of its "listening on" line, stops it.
threads_of() {
	local p=$1 log pid i
	shift
	log=$(mktemp "$BATS_TEST_TMPDIR/$p.XXXXXX")
	env -i PATH="$PATH" STORE_LISTEN="$log.sock" STORE_DB="sqlite:$log.db" \
		JWT_KEY=0123456789abcdef0123456789abcdef NATS_URL=nats://127.0.0.1:1 \
		STORE_API_URL=http://127.0.0.1:1 "$@" "$STORE_BUILD/bin/$p" 2>"$log" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$log" && break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || true
	sed -n 's/.*listening on .* with \([0-9]*\) threads.*/\1/p' "$log"
}

@test "workers: one per CPU (2 to 16) where requests only use the processor, 4 where they wait on another server, STORE_THREADS over both" {
	local cpus want p got
	cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
	want=$((cpus < 2 ? 2 : cpus > 16 ? 16 : cpus))
	for p in store-auth store-products store-cart; do
		got=$(threads_of "$p")
		[[ $got == "$want" ]] || { echo "$p: $got workers on $cpus CPUs, not $want" >&2; return 1; }
		got=$(threads_of "$p" taskset -c 0)
		[[ $got == 2 ]] || { echo "$p on one CPU: $got workers, not 2" >&2; return 1; }
	done
	for p in store-payments store-web; do
		got=$(threads_of "$p" taskset -c 0)
		[[ $got == 4 ]] || { echo "$p: $got workers, not 4" >&2; return 1; }
	done
	[[ $(threads_of store-products STORE_THREADS=3) == 3 ]]
	[[ $(threads_of store-payments STORE_THREADS=7) == 7 ]]
}

@test "a short JWT_KEY is named, and its value is not echoed" {
	run env -i PATH="$PATH" STORE_LISTEN="$BATS_TEST_TMPDIR/a.sock" STORE_DB="sqlite:$BATS_TEST_TMPDIR/a.db" \
		JWT_KEY=tooshort-secret "$STORE_BUILD/bin/store-auth"
	[[ $status == 78 ]]
	[[ $output == *"'JWT_KEY'"* ]]
	[[ $output != *tooshort-secret* ]]
}

@test "malformed numbers and choices are named" {
	local base=(env -i PATH="$PATH" STORE_LISTEN="$BATS_TEST_TMPDIR/a.sock"
		STORE_DB="sqlite:$BATS_TEST_TMPDIR/a.db" JWT_KEY=0123456789abcdef0123456789abcdef)
	run "${base[@]}" STORE_THREADS=zero "$STORE_BUILD/bin/store-auth"
	[[ $status == 78 && $output == *"'STORE_THREADS'"* ]]
	run "${base[@]}" STORE_HOLD_SECONDS=-5 "$STORE_BUILD/bin/store-products"
	[[ $status == 78 && $output == *"'STORE_HOLD_SECONDS'"* ]]
	run "${base[@]}" STORE_PAYMENTS=paypal "$STORE_BUILD/bin/store-payments"
	[[ $status == 78 && $output == *"'STORE_PAYMENTS'"* ]]
	run "${base[@]}" STORE_PAYMENTS=stripe "$STORE_BUILD/bin/store-payments"
	[[ $status == 78 && $output == *"'STRIPE_KEY'"* ]]
	run env -i PATH="$PATH" STORE_DB="sqlite:$BATS_TEST_TMPDIR/a.db" STORE_MAX_DELIVER=0 \
		"$STORE_BUILD/bin/cartd"
	[[ $status == 78 && $output == *"'STORE_MAX_DELIVER'"* ]]
	run "${base[@]}" STORE_DB="postgres://x" "$STORE_BUILD/bin/store-auth"
	[[ $status == 78 && $output == *postgres* ]]
}

@test "a mongodb STORE_DB loads the MongoDB module; without it the program names it and exits 78" {
	local base=(env -i PATH="$PATH" STORE_LISTEN="$BATS_TEST_TMPDIR/a.sock"
		JWT_KEY=0123456789abcdef0123456789abcdef)
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	run "${base[@]}" STORE_MODULE_DIR="$BATS_TEST_TMPDIR/empty" \
		STORE_DB="mongodb://127.0.0.1:1/shop?serverSelectionTimeoutMS=200" "$STORE_BUILD/bin/store-auth"
	[[ $status == 78 ]] || { echo "exited $status: $output" >&2; return 1; }
	[[ $output == *"db_mongo.so"* && $output == *STORE_MODULE_DIR* ]]
	# The default folder (lib/store beside the program's bin) holds it: the
	# program gets as far as the server, which does not answer.
	run "${base[@]}" STORE_DB="mongodb://127.0.0.1:1/shop?serverSelectionTimeoutMS=200&connectTimeoutMS=200" \
		"$STORE_BUILD/bin/store-auth"
	[[ $status != 0 && $status != 78 ]] || { echo "exited $status: $output" >&2; return 1; }
	[[ $output == *"cannot reach mongodb database 'shop'"* ]]
}
