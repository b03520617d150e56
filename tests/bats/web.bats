#!/usr/bin/env bats
# The web front in a real browser: headless Chromium (Debian's chromium,
# driven by playwright-core from tests/node_modules) does the whole journey
# of tests/browser/journey.mjs against the store: sign up, a category, a
# product with an uploaded picture, a second user's cart, quantity, a
# declined card, a paid order. Screenshots of every step are kept in
# tests/artifacts/browser/BUILD/ (BUILD: the build folder's name).

load '../lib/store'

setup_file() {
	store_start
}

teardown_file() {
	store_stop
}

@test "browser: register, sell a product with a picture, buy it, a declined card, pay, see the order" {
	local chromium=${CHROMIUM:-/usr/bin/chromium} out
	if [[ ! -x $chromium ]]; then
		echo "chromium is not installed ($chromium): bin/store-deps installs Debian's chromium" >&2
		return 1
	fi
	if [[ ! -d $STORE_ROOT/tests/node_modules/playwright-core ]]; then
		echo "playwright-core is not installed in tests/node_modules: bin/store-deps --test" >&2
		return 1
	fi
	out="$STORE_ROOT/tests/artifacts/browser/$(basename "$STORE_BUILD")"
	rm -rf "$out"
	run timeout --kill-after=10 300 node "$STORE_ROOT/tests/browser/journey.mjs" "$STORE_URL" "$out"
	printf '%s\n' "$output"
	((status == 0))
	# Every step left its screenshot.
	[[ $(find "$out" -name '*.png' ! -name '*FAILED*' | wc -l) -ge 12 ]]
}

# --- file-wide checks: keep these last ------------------------------------------

@test "no response of the journey was a 5xx, the web front's calls to the API included" {
	if grep -E '"status":5[0-9][0-9]' "$STORE_VAR/log/nginx-access.log"; then
		return 1
	fi
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
