#!/usr/bin/env bats
# The expiration service (expirerd) with real nats-server and redis-server:
# a hold (addToCart's selection) runs out after STORE_HOLD_SECONDS (2 s here),
# expirerd fires store.expiration.complete from its delayed job in Redis, and
# the products service releases the hold. Jobs fire exactly once each through
# a kill -9 of expirerd and a restart of redis-server. Many selections are
# published straight into JetStream (tests/lib/nats-tool.js) rather than made
# by HTTP calls. Each test polls (wait_until, bounded); none sleeps, and none
# asserts on how long anything took.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'

# Redis keys of the jobs (lib/store/jobs.h), for STORE_JOBS_PREFIX's default.
JOBS=store:expiration

setup_file() {
	# A lease lapses after 2 s: a job expirerd took and did not finish (it was
	# killed) fires again that soon.
	export STORE_HOLD_SECONDS=2 STORE_JOB_LEASE_MS=2000
	unset STORE_JOBS_PREFIX
	store_start auth,products,expirerd
}

teardown_file() {
	store_stop
}

# A test that stops processes starts them again; if it failed half-way, this
# puts the store back for the next test.
teardown() {
	local name pid
	[[ ! -e $STORE_VAR/stopped ]] || return 0
	kill -CONT "$(cat "$STORE_VAR/run/nats.pid")" 2>/dev/null || true
	for name in redis expirerd; do
		pid=$(cat "$STORE_VAR/run/$name.pid" 2>/dev/null) || pid=""
		if [[ -z $pid ]] || ! _alive "$pid"; then
			svc_start "$name"
		fi
	done
}

# --- selections and jobs ---------------------------------------------------------

# new_ids N FILE: N new selection ids in FILE, one a line.
new_ids() {
	local i
	for ((i = 0; i < $1; i++)); do
		oid
	done >"$2"
}

# selections IDS-FILE DUE-MS STEP-MS: a store.product.selected payload (one
# line each) for each id, the first due at DUE-MS (ms since the epoch), each
# next STEP-MS later, all of one made-up product.
selections() {
	jq -nc --rawfile ids "$1" --argjson due "$2" --argjson step "$3" \
		--arg p "$(oid)" --arg u "$(oid)" --arg c "$(oid)" '
		($ids | split("\n") | map(select(length > 0))) as $ids
		| range(0; $ids | length) as $i
		| ($due + $i * $step) as $ms
		| {productId: $p, selectionId: $ids[$i], userId: $u, categoryId: $c, views: 1,
		   expiresAt: (($ms / 1000 | floor | todate | rtrimstr("Z")) + "."
		               + ("00" + ($ms % 1000 | tostring))[-3:] + "Z")}'
}

# publish_selections IDS-FILE DUE-MS STEP-MS: publish them, expect all in.
publish_selections() {
	local out
	out=$(selections "$@" | nats_tool publish store.product.selected -) || return 1
	[[ $(jq .published <<<"$out") == $(wc -l <"$1") ]]
}

# now_ms: this machine's clock (the Redis server's, which expirerd goes by).
now_ms() {
	date +%s%3N
}

# pending IDS-FILE: how many of the ids have a job in Redis (waiting or taken).
pending() {
	local -a ids
	mapfile -t ids <"$1"
	redis_cli HMGET "$JOBS:job" "${ids[@]}" | grep -c . || true
}

# fired: the selection ids of every store.expiration.complete in the stream,
# one a line (repeats included).
fired() {
	nats_tool get store.expiration.complete | jq -r .selectionId
}

# fired_count IDS-FILE: how many expirations of these ids the stream holds.
fired_count() {
	fired | grep -cFx -f "$1" || true
}

# pending_is IDS-FILE N: N of the ids have a job in Redis; for wait_until.
pending_is() {
	local n
	n=$(pending "$1")
	[[ $n == "$2" ]] || {
		echo "$n jobs pending, not $2" >&2
		return 1
	}
}

# listening_count: how many times expirerd said it listens (once a start).
listening_count() {
	grep -c '"msg":"listening"' "$STORE_VAR/log/expirerd.log" || true
}

# listening_more_than N: expirerd said it listens more than N times (a start
# after N is connected to NATS and Redis); for wait_until.
listening_more_than() {
	local n
	n=$(listening_count)
	((n > $1))
}

# leased_or_done IDS-FILE: expirerd holds some jobs under a lease, or none of
# these is left to take; for wait_until. Asks Redis only.
leased_or_done() {
	local n
	n=$(redis_cli ZCARD "$JOBS:lease")
	((n > 0)) && return 0
	n=$(pending "$1")
	((n == 0))
}

# scheduled IDS-FILE: every id has its job in Redis or has fired already (a
# job is deleted only after its event is out, so Redis is asked first); for
# wait_until.
scheduled() {
	local -a ids
	local missing
	mapfile -t ids <"$1"
	missing=$(paste -d ' ' "$1" <(redis_cli HMGET "$JOBS:job" "${ids[@]}") | awk 'NF == 1 { print $1 }')
	[[ -n $missing ]] || return 0
	missing=$(comm -23 <(sort <<<"$missing") <(fired | sort -u))
	if [[ -n $missing ]]; then
		echo "$(wc -l <<<"$missing") selections are neither scheduled nor fired" >&2
		return 1
	fi
}

# all_fired IDS-FILE: no job of these ids is left and each has fired; for
# wait_until.
all_fired() {
	local n
	n=$(pending "$1")
	[[ $n == 0 ]] || {
		echo "$n jobs still pending" >&2
		return 1
	}
	n=$(fired | sort -u | grep -cFx -f "$1" || true)
	[[ $n == $(wc -l <"$1") ]] || {
		echo "$n of $(wc -l <"$1") fired" >&2
		return 1
	}
}

# fired_once IDS-FILE: the stream holds exactly one store.expiration.complete
# per id (a second firing, after a crash, has the same event id, which
# JetStream drops as a duplicate).
fired_once() {
	local counts bad
	counts=$(fired | sort | uniq -c | awk '{ print $2, $1 }' | sort)
	bad=$(join -a 1 -e 0 -o 0,2.2 <(sort "$1") <(printf '%s\n' "$counts") | awk '$2 != 1')
	if [[ -n $bad ]]; then
		echo "fired other than once (id count): $(head -n 5 <<<"$bad")" >&2
		return 1
	fi
}

# held_selections PRODUCT: the selection ids of the product's holds, from the
# stream's store.product.selected.
held_selections() {
	nats_tool get store.product.selected | jq -r --arg p "$1" 'select(.productId == $p) | .selectionId'
}

# ---------------------------------------------------------------------------------

@test "a hold runs out: views goes back down, product.updated says so, the unit can be held again" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 4.5 1 "Last one"
	local pid=$product_id cat=$category_id
	as buyer signup
	as buyer add_to_cart "$pid" "$cat"
	[[ $(json_get .version) == 1 ]]
	# The hold counts (views 1), unless it ran out already.
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$pid" --arg c "$cat" '{id: $i, categoryId: $c}')"
	if [[ $status_code == 400 ]]; then
		expect_error 400 "Out of stock"
	fi

	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.views == 0 and .count == 1'
	local sel
	sel=$(held_selections "$pid" | head -n 1)
	[[ $sel =~ ^[0-9a-f]{24}$ ]]
	# expirerd announced it, once, with the selection's fields...
	nats_tool get store.expiration.complete | jq -se --arg s "$sel" --arg p "$pid" --arg c "$cat" '
		map(select(.selectionId == $s)) | length == 1
		and .[0] == {productId: $p, selectionId: $s, categoryId: $c, views: 1}'
	# ...the products service released it: one more version, views 0...
	product_updates "$pid" | jq -se 'any(.[]; .version >= 2 and .views == 0 and .count == 1)'
	# ...and its job is gone from Redis.
	[[ $(redis_cli HEXISTS "$JOBS:job" "$sel") == 0 ]]
	# The unit is free again.
	as buyer add_to_cart "$pid" "$cat"
}

@test "kill -9 expirerd with 1,000 jobs pending, and again while it fires: each fires exactly once" {
	# Three real holds of one product, so the products service's side shows...
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 5 5 "Held thrice"
	local pid=$product_id cat=$category_id i
	as buyer signup
	for i in 1 2 3; do
		as buyer add_to_cart "$pid" "$cat"
	done
	# ...and 1,000 made-up selections, due in 5 s, 5 ms apart.
	local sels="$BATS_TEST_TMPDIR/selections"
	new_ids 1000 "$sels"
	publish_selections "$sels" $(($(now_ms) + 5000)) 5
	wait_until 120 scheduled "$sels"

	local before
	before=$(pending "$sels")
	svc_kill expirerd
	echo "# expirerd killed -9 with $before of 1000 jobs pending" >&3
	# Nothing of them went with it.
	[[ $(($(pending "$sels") + $(fired_count "$sels"))) -ge 1000 ]]

	# Started again, and killed again while it fires them: with nats-server frozen (SIGSTOP),
	# expirerd takes due jobs under a lease and waits for JetStream's
	# acknowledgement of the first; killed then, it leaves them leased, and the
	# publish it sent may still reach the stream when nats-server goes on.
	# Started again, it fires them when their lease lapses: the ones already
	# out again, with the same event id, which JetStream drops.
	local starts nats
	starts=$(listening_count)
	svc_start expirerd
	wait_until 60 listening_more_than "$starts"
	nats=$(<"$STORE_VAR/run/nats.pid")
	kill -STOP "$nats"
	wait_until 120 leased_or_done "$sels"
	local leased
	leased=$(redis_cli ZCARD "$JOBS:lease")
	svc_kill expirerd
	kill -CONT "$nats"
	echo "# killed -9 again holding $leased leased jobs; $(pending "$sels") pending" >&3
	svc_start expirerd

	wait_until 180 all_fired "$sels"
	fired_once "$sels"
	[[ $(fired_count "$sels") == 1000 ]]

	# The real holds: each expired once, and the products service released
	# each once: views back to 0, and versions 1-3 (holds) and 4-6 (releases),
	# one store.product.updated each, no more.
	held_selections "$pid" >"$BATS_TEST_TMPDIR/held"
	[[ $(wc -l <"$BATS_TEST_TMPDIR/held") == 3 ]]
	wait_until 60 all_fired "$BATS_TEST_TMPDIR/held"
	fired_once "$BATS_TEST_TMPDIR/held"
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.views == 0 and .count == 5'
	product_is "$cat" "$pid" '.version == 6'
	product_updates "$pid" | jq -se 'map(.version) == [1, 2, 3, 4, 5, 6] and .[-1].views == 0'
	[[ $(dead_count store.product.selected) == 0 && $(dead_count store.expiration.complete) == 0 ]]
}

# deliveries_waited_over N: expirerd said a selection it could not count its
# attempts for (Redis down) waits at a delivery above N; for wait_until.
deliveries_waited_over() {
	local top
	top=$(grep -o 'messages wait (delivery [0-9]* at most)' "$STORE_VAR/log/expirerd.log" |
		grep -o '[0-9]*' | sort -n | tail -n 1)
	((${top:-0} > $1)) || {
		echo "the highest delivery waiting is ${top:-none}, not above $1" >&2
		return 1
	}
}

@test "redis-server down for more deliveries than STORE_MAX_DELIVER: the selections wait, then fire once Redis is back, none dead-lettered" {
	# Attempts are counted in Redis (EVENTS.md rule 6). With Redis down a
	# redelivery cannot be counted, so it waits instead of using up the
	# attempts: counted by deliveries, these were dead-lettered after 5 and
	# their holds would never have run out.
	local ids="$BATS_TEST_TMPDIR/ids" dead0
	dead0=$(dead_count store.product.selected)
	new_ids 3 "$ids"
	redis_stop
	publish_selections "$ids" $(($(now_ms) + 1000)) 10
	wait_until 60 deliveries_waited_over "${STORE_MAX_DELIVER:-5}"
	[[ $(dead_count store.product.selected) == "$dead0" ]]
	redis_start

	wait_until 60 all_fired "$ids"
	fired_once "$ids"
	[[ $(dead_count store.product.selected) == "$dead0" ]]
	# Each count went with its message.
	[[ -z $(redis_cli --scan --pattern "$JOBS:attempt:*") ]]
}

@test "redis-server restarted with jobs pending: they survive it and fire, once each" {
	# Due in 4 s; and others due in an hour, to see them all come back.
	local soon="$BATS_TEST_TMPDIR/soon" later="$BATS_TEST_TMPDIR/later" at
	new_ids 100 "$soon"
	new_ids 20 "$later"
	at=$(($(now_ms) + 3600000))
	publish_selections "$soon" $(($(now_ms) + 4000)) 10
	publish_selections "$later" "$at" 1000
	wait_until 60 scheduled "$soon"
	wait_until 60 pending_is "$later" 20

	local before
	before=$(pending "$soon")
	redis_stop
	echo "# redis-server stopped with $before of 100 due jobs pending" >&3
	redis_start

	# Back from its append-only file: every job, due when it was.
	[[ $(pending "$later") == 20 ]]
	local first
	first=$(head -n 1 "$later")
	[[ $(redis_cli HGET "$JOBS:at" "$first") == "$at" ]]
	redis_cli HGET "$JOBS:job" "$first" | jq -e --arg s "$first" '.selectionId == $s and .views == 1'
	# expirerd, still running, fires the due ones: each once.
	wait_until 120 all_fired "$soon"
	fired_once "$soon"
	[[ $(fired_count "$later") == 0 ]]
	_alive "$(<"$STORE_VAR/run/expirerd.pid")"
	[[ $(dead_count store.product.selected) == 0 ]]
}
