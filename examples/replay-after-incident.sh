#!/bin/sh
# replay-after-incident.sh - the on-call runbook after an incident, as a script
# to copy and adapt: what is down, what was given up, and a service handling
# a stretch of history again.
#
#   examples/replay-after-incident.sh SERVICE SINCE
#
#   SERVICE  whose consumers to re-drive: cart, products, payments, expiration
#   SINCE    where the incident began: 2h, 45m, or 2026-11-27T10:00:00Z
#
# Environment: NATS_URL and the rest as the services have them (storectl(1));
# STORE_VAR, the launcher's state folder for health (./var). DRY_RUN=1 only
# says what would happen.
#
# Re-driving is safe: every handler is idempotent (EVENTS.md, rule 6), so
# events the service had already applied change nothing.
set -eu

service=${1:?usage: replay-after-incident.sh SERVICE SINCE}
since=${2:?usage: replay-after-incident.sh SERVICE SINCE}
var=${STORE_VAR:-./var}

echo "== health"
if ! storectl --format table health --var "$var"; then
	echo "something is down: fix it before replaying (exit status 69)" >&2
	exit 69
fi

echo "== dead letters"
storectl --format table dead ls

echo "== where $service's consumers stand, and what they would get again"
storectl --format table replay --to "$service" --since "$since" --dry-run
if [ "${DRY_RUN:-0}" = 1 ]; then
	exit 0
fi

echo "== re-driving $service from $since"
storectl replay --to "$service" --since "$since" --wait 1800 |
	jq -r '"\(.consumer): \(.events) events, \(.status)"'

echo "== retrying $service's dead letters (their cause should be fixed now)"
for consumer in $(storectl replay --to "$service" --since "$since" --dry-run | jq -r .consumer); do
	storectl dead retry --all --consumer "$consumer" |
		jq -r '"retried dead letter \(.id) (\(.subject)) as \(.seq)"'
done
