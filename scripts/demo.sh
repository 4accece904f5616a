#!/usr/bin/env bash
# The scripted scenario `make demo` runs against the local stack that `make local-up` started.
# It prints what happens in plain words. Later capabilities add their chapters here.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . .local/env; set +a
RW=target/debug/rootwarden
PY=.venv/bin/python
ACCOUNT=111122223333

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "The local stack is up: moto on $AWS_ENDPOINT_URL, provisioned from infra/template.yaml"
$PY scripts/demo_aws.py stack

say "An operator records notes on two accounts' audit trails (identity comes from STS, not a flag)"
run $RW audit annotate --account $ACCOUNT --reason "onboarding call with the customer" --ticket CHG-1001
run $RW audit annotate --account $ACCOUNT --reason "confirmed the root mailbox forwards to the provider" --ticket CHG-1001
run $RW audit annotate --account 444455556666 --reason "customer asked about root MFA" --ticket CHG-1002

say "The trail, oldest first"
run $RW audit log --account $ACCOUNT

say "Every chain verifies"
run $RW audit verify

say "The daily audit-integrity workflow: Step Functions runs the Rust audit-verifier Lambda"
$PY scripts/demo_aws.py run-integrity intact-$(date +%s)

say "Someone with table access rewrites record 2 of $ACCOUNT's trail"
$PY scripts/demo_aws.py tamper "$ACCOUNT" 2

say "audit verify now fails and names the record (exit status 1)"
set +e
$RW audit verify; status=$?
set -e
echo "exit status: $status"
[ "$status" -eq 1 ] || { echo "expected audit verify to fail"; exit 1; }

say "The daily workflow fails too, with AuditTamperDetected (its alarm pages the team)"
$PY scripts/demo_aws.py run-integrity tampered-$(date +%s) --expect-failure

say "Demo complete"
