#!/usr/bin/env bats
# store(7)'s DEPLOYMENT section: clean for mandoc, and every file it names exists.

load 'deploy'

@test "docs: store(7) is clean for mandoc -Tlint -W warning" {
	need mandoc
	run mandoc -Tlint -W warning "$STORE_ROOT/man/store.7"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^\.Sh DEPLOYMENT$' "$STORE_ROOT/man/store.7"
}

@test "docs: every compose/, k8s/ and tests/deploy path store(7) names exists" {
	cd "$STORE_ROOT"
	mapfile -t paths < <(grep -oE '(compose|k8s|tests/deploy)/[A-Za-z0-9._/*-]*' man/store.7 | sed 's/[.,]$//' | sort -u)
	((${#paths[@]} > 8))
	for p in "${paths[@]}"; do
		[[ $p == compose/.env ]] && continue # made by the user from env.example
		compgen -G "$p" >/dev/null || { echo "store(7) names $p, which does not exist"; return 1; }
	done
}
