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
# As a break-glass principal (an IAM user with its own keys, .local/principals/<name>.env).
as() { local who=$1; shift; (unset AWS_SESSION_TOKEN; set -a; . .local/principals/$who.env; set +a; "$@"); }

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
echo "  It checks the chains and the newest signed digest, so the hourly digest workflow runs first"
echo "  (both are Distributed Maps over segments of the audit table):"
$PY scripts/demo_aws.py run-digest digest-$(date +%s)
$PY scripts/demo_aws.py run-integrity intact-$(date +%s)

say "Inbound root mail: SES stores each message in S3 and invokes the inbound-mail Lambda"
$PY scripts/demo_aws.py register 210987654321 acme-prod@root.provider.example
M=tests/fixtures/mail
$PY scripts/demo_aws.py deliver $M/password-reset-01-signin-aws.eml acme-prod@root.provider.example demo-0001
RESET=$(cat .local/last-ticket)
echo "  (SES retries the same delivery)"
$PY scripts/demo_aws.py deliver $M/password-reset-01-signin-aws.eml acme-prod@root.provider.example demo-0001
$PY scripts/demo_aws.py deliver $M/security-01-ec2-abuse-report.eml aws-root+111122223333@provider.example demo-0002
$PY scripts/demo_aws.py deliver $M/support-case-01-opened.eml aws-root+111122223333@provider.example demo-0003
$PY scripts/demo_aws.py deliver $M/support-case-02-reply-thread.eml aws-root+111122223333@provider.example demo-0004
$PY scripts/demo_aws.py deliver $M/quarantine-04-phishing-signin-aws-unaligned-dkim.eml acme-prod@root.provider.example demo-0005
$PY scripts/demo_aws.py deliver $M/marketing-01-reinvent-invite.eml aws-root+111122223333@provider.example demo-0006

say "The tickets (the support reply threaded onto its case; the phish is quarantined; marketing is filed resolved)"
run $RW ticket list

say "The reset ticket holds no link: the marker names the kind; the link is in the vault, KMS-encrypted, for 24 h"
$RW ticket show "$RESET" | grep -E '"(subject|summary|redactions)"' -A1 | cut -c1-160
$PY scripts/demo_aws.py vault

say "The same decision offline, with no AWS: rootwarden mail inspect on the phish"
$RW mail inspect $M/quarantine-04-phishing-signin-aws-unaligned-dkim.eml | grep -E '"(category|priority|quarantined)"|quarantine_reasons' -A2 | head -12

say "Every ticket wrote its audit record in the same transaction; the chains still verify"
run $RW audit verify

say "Taking custody of Pi Corp from scratch: its root user is still the founder's"
$PY scripts/demo_aws.py customer 314159265358 founder@picorp.example
echo "  Break-glass principals first (the takeover's human steps use a check-out):"
$PY scripts/demo_aws.py principals
run $RW account takeover --account 314159265358 --mode vaulted --reason "custody of Pi Corp production" --ticket CHG-1000
echo "  The workflow allocates a root address, registers it, then asks AWS to change the root email;"
echo "  AWS mails the one-time code there, SES stores it and invokes inbound-mail, which vaults it"
echo "  and completes the wait; the workflow accepts the code. Nobody relays anything:"
$PY scripts/demo_aws.py wait-takeover 314159265358 awaiting-reset-link
run $RW account takeover-status --account 314159265358

say "Human step: \"Forgot password\" on the root sign-in page (no AWS API sends it; the emulator stands in for the browser)"
$PY scripts/demo_aws.py console 314159265358 forgot-password
echo "  AWS mails the reset link; inbound mail vaults it (the ticket shows only a marker):"
$PY scripts/demo_aws.py wait-for-wait 314159265358 password-changed

say "Human step: alice checks out the reset link and the pending password (reason takeover, bob approves) and sets it"
REQ=$(as alice $RW access request --account 314159265358 --reason takeover --ticket INC-1000)
as bob $RW access approve "$REQ"
umask 077
as alice $RW --output json access checkout "$REQ" > .local/takeover-checkout.json
echo "  shown once, to alice only (here into .local/takeover-checkout.json, mode 600)"
$PY scripts/demo_aws.py console 314159265358 reset-password .local/takeover-checkout.json
as alice $RW access checkin "$REQ"
echo "  AWS's \"password changed\" mail makes the pending password current:"
$PY scripts/demo_aws.py wait-takeover 314159265358 awaiting-mfa

say "Human step: enrol a virtual MFA device; its seed goes from stdin into the vault, never onto a command line"
$PY scripts/demo_aws.py console 314159265358 mfa .local/takeover-checkout.json | \
  run $RW account mfa-seed --account 314159265358
rm -f .local/takeover-checkout.json
$PY scripts/demo_aws.py wait-takeover 314159265358 active
echo "  The root access key is gone, the MFA device is ours, the account is active and scheduled for rotation:"
$PY scripts/demo_aws.py root-state 314159265358
run $RW account takeover-status --account 314159265358
$RW audit log --account 314159265358 | grep -E 'takeover\.|mfa-seed|vault' | cut -c1-160

say "Onboarding (for accounts whose root address is already ours): root password and MFA seed come from stdin, never from arguments or the environment"
PW='Current-Root-Pa55word!'   # the demo's stand-in for what an operator pastes
printf '%s\n' "$PW-2" | \
  run $RW account onboard --account 271828182845 --root-email aws-root+271828182845@provider.example --name "Euler staging"
run $RW account onboard --account 161803398874 --root-email aws-root+161803398874@provider.example \
  --name "Phi sandbox" --mode credential-less </dev/null
run $RW account list
run $RW account show --account 314159265358

say "The hourly sweep: Pi Corp's password reached its maximum age; the sweep starts one rotation"
$PY scripts/demo_aws.py make-due 314159265358
$PY scripts/demo_aws.py invoke RotationSchedulerFunction
echo "  (the next sweep starts nothing twice)"
$PY scripts/demo_aws.py invoke RotationSchedulerFunction
$PY scripts/demo_aws.py wait-rotation 314159265358 awaiting-apply
run $RW rotation status --account 314159265358
$RW ticket list --account 314159265358

say "An operator applies the pending password at the AWS sign-in page; AWS mails \"password changed\""
$PY scripts/demo_aws.py deliver $M/password-changed-01-sub-address.eml "$($PY scripts/demo_aws.py root-email 314159265358)" demo-0007
$PY scripts/demo_aws.py wait-rotation 314159265358 completed
run $RW rotation status --account 314159265358

say "Root-credential enforcement (daily): AssumeRoot into every account, record the posture"
echo "  Root users as AWS has them: Pi Corp's has a root access key someone created; Phi sandbox"
echo "  is credential-less but still has a password and an MFA device"
for a in 210987654321 271828182845; do $PY scripts/demo_aws.py root-state $a normal; done
$PY scripts/demo_aws.py root-state 314159265358 key
$PY scripts/demo_aws.py root-state 161803398874 normal
$PY scripts/demo_aws.py invoke RootEnforcementFunction
echo "  Afterwards:"
for a in 314159265358 161803398874; do $PY scripts/demo_aws.py root-state $a; done
run $RW ticket list --account 314159265358
echo "  (the next run finds nothing to remove)"
$PY scripts/demo_aws.py invoke RootEnforcementFunction '{"account_id": "314159265358"}'

say "Every vault change, rotation step and deletion is on the audit trail; the chains verify"
run $RW audit log --account 314159265358
run $RW audit verify

say "Break-glass access: who may do what is the access function's policy; who you are is whoever AWS authenticates the signed request as"
$PY scripts/demo_aws.py principals
echo "  the CLI signs each request (SigV4) to the function URL: $ROOTWARDEN_ACCESS_URL"
echo "  mallory (not in the policy) asks for Pi Corp's root password:"
as mallory $RW access request --account 314159265358 --reason billing-issue --ticket INC-2042 || true
echo "  alice asks, with a reason and a ticket:"
REQ=$(as alice $RW access request --account 314159265358 --reason billing-issue --ticket INC-2042 --duration 30m)
echo "  alice may approve, but not her own request:"
as alice $RW access approve "$REQ" || true
echo "  bob approves:"
as bob $RW access approve "$REQ"
say "alice checks out: the password and the current TOTP code, shown once, to her only"
as alice $RW access checkout "$REQ"
echo "  a second check-out of the same request is refused:"
as alice $RW access checkout "$REQ" || true
as alice $RW access checkin "$REQ"
say "The check-out marked Pi Corp for rotation: the next sweep starts it"
$PY scripts/demo_aws.py invoke RotationSchedulerFunction
$PY scripts/demo_aws.py wait-rotation 314159265358 awaiting-apply
run $RW rotation status --account 314159265358
say "Every decision is on the trail (requested, refused, approved, checked out, checked in)"
$RW audit log --account 314159265358 | grep -E 'access\.|rotation|vault.stage'
echo "  The hourly digest workflow signs every chain's head with the KMS digest key:"
$PY scripts/demo_aws.py run-digest digest-again-$(date +%s)
run $RW audit verify

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

say "Giving up custody (release): four customer accounts in our organization, each onboarded with a vaulted root password"
echo "  A release is an access request with reason release: one person asks, another approves, and"
echo "  only then does the access function start the exit's workflow (close, handback or transfer)"
# A member of our organization (demo_aws.py member), onboarded as any account (password on stdin).
member() {
  local id
  id=$($PY scripts/demo_aws.py member "$1")
  printf '%s\n' "$PW" | $RW account onboard --account "$id" --root-email "aws-${1,,}@$ROOTWARDEN_ROOT_MAIL_DOMAIN" \
    --name "Customer $1" >/dev/null
  echo "$id"
}
TAU=$(member Tau); EUCLID=$(member Euclid); GAUSS=$(member Gauss); KEPLER=$(member Kepler)

say "Release 1, closure: alice asks to close Customer Tau's account"
REQ=$(as alice $RW release close --account "$TAU" --ticket INC-3001)
echo "  alice may approve, but never her own release request:"
as alice $RW release approve --request "$REQ" || true
echo "  bob approves; the access function starts the release-close workflow:"
as bob $RW release approve --request "$REQ"
echo "  Custody stops (status releasing), then CloseAccount: the point of no return. The account is"
echo "  PENDING_CLOSURE and the workflow waits for AWS's \"account closed\" mail:"
$PY scripts/demo_aws.py wait-for-wait "$TAU" account-closed
run $RW release status --account "$TAU"
echo "  past the point of no return, cancel is refused:"
$RW release cancel --account "$TAU" || true
echo "  AWS completes the closure (hours on AWS; the emulator now) and mails \"account closed\" to our"
echo "  root address; inbound mail completes the wait, and DescribeAccount confirms SUSPENDED:"
$PY scripts/demo_aws.py close-advance "$TAU"
$PY scripts/demo_aws.py wait-execution close "$TAU" "$REQ" SUCCEEDED
run $RW release status --account "$TAU"

say "A closed account's vault stays sealed for AWS's 90-day reinstatement window"
echo "  nothing can be checked out:"
as alice $RW access request --account "$TAU" --reason billing-issue --ticket INC-3002 || true
echo "  The daily shred run (04:30 UTC) finds it inside its window and leaves it sealed:"
$PY scripts/demo_aws.py fire-schedule ReleaseShredSchedule
$PY scripts/demo_aws.py vault-count "$TAU"

say "Release 2, hand-back: Customer Euclid takes its account back, at its own root address"
REQ=$(as alice $RW release handback --account "$EUCLID" --ticket INC-3003 \
  --customer-email owner@euclid.example --customer-phone +15550100 --customer-name "Ada Owner")
as bob $RW release approve --request "$REQ"
echo "  The workflow asks AWS to change the root email to the customer's address; AWS mails a"
echo "  one-time code there, which only the customer sees:"
$PY scripts/demo_aws.py wait-release "$EUCLID" awaiting-code
run $RW release status --account "$EUCLID"

say "Human step: the customer reads the code to the operator, who relays it on stdin (never an argument)"
echo "  first a mistyped code:"
$PY scripts/demo_aws.py otp "$EUCLID" --wrong | run $RW release otp --account "$EUCLID"
echo "  AWS refuses it; the workflow asks AWS for a new code (resend 1 of at most 3) and waits again:"
$PY scripts/demo_aws.py wait-release "$EUCLID" awaiting-code 1
run $RW release status --account "$EUCLID"
echo "  the new code, read correctly:"
$PY scripts/demo_aws.py otp "$EUCLID" | run $RW release otp --account "$EUCLID"
echo "  AWS accepts it (the point of no return). Then the contacts become the customer's, every root"
echo "  credential of ours is removed, a login profile without a password is created, the vault is"
echo "  crypto-shredded and a handover certificate is signed with the KMS certificate key:"
$PY scripts/demo_aws.py wait-execution handback "$EUCLID" "$REQ" SUCCEEDED
run $RW release status --account "$EUCLID"

say "The account is the customer's: their root address, no credential of ours, nothing left in our vault"
$PY scripts/demo_aws.py primary-email "$EUCLID"
$PY scripts/demo_aws.py root-state "$EUCLID"
$PY scripts/demo_aws.py vault-count "$EUCLID"
echo "  \"Forgot password\" from our old address reaches nobody; from the customer's it does:"
$PY scripts/demo_aws.py forgot-password "$EUCLID" "aws-euclid@$ROOTWARDEN_ROOT_MAIL_DOMAIN"
$PY scripts/demo_aws.py forgot-password "$EUCLID" owner@euclid.example

say "The customer verifies the handover certificate offline"
rm -f .local/euclid-certificate.json .local/euclid-forged.json .local/certificate-key.pem
echo "  the operator sends the certificate and the published public key:"
run $RW release certificate get --account "$EUCLID" --out .local/euclid-certificate.json
run $RW release certificate public-key --out .local/certificate-key.pem
echo "  the customer checks it with no AWS access at all (empty environment):"
run env -i $RW release certificate verify .local/euclid-certificate.json --public-key .local/certificate-key.pem
echo "  a copy someone edited to name another owner does not verify (exit status 1):"
sed 's/owner@euclid\.example/mallory@evil.example/' .local/euclid-certificate.json > .local/euclid-forged.json
set +e
env -i $RW release certificate verify .local/euclid-forged.json --public-key .local/certificate-key.pem; status=$?
set -e
echo "exit status: $status"
[ "$status" -eq 1 ] || { echo "expected the forged certificate to fail verification"; exit 1; }

say "Release 3, transfer: Customer Kepler's account is still enrolled in Control Tower"
$PY scripts/demo_aws.py control-tower "$KEPLER"
REQ=$(as alice $RW release transfer --account "$KEPLER" --ticket INC-3004 \
  --customer-org o-kepler00001 --customer-phone +15550101 --keep-email)
as bob $RW release approve --request "$REQ"
echo "  The transfer checks its preconditions before handing anything over, and stops, named:"
$PY scripts/demo_aws.py wait-execution transfer "$KEPLER" "$REQ" FAILED
run $RW release status --account "$KEPLER"
echo "  cancelling returns it to custody (active again, our MFA device still there):"
run $RW release cancel --account "$KEPLER"
$PY scripts/demo_aws.py root-state "$KEPLER"

say "Release 3, transfer: Customer Gauss's own organization invites the account"
ORG=$($PY scripts/demo_aws.py customer-org "$GAUSS")
REQ=$(as alice $RW release transfer --account "$GAUSS" --ticket INC-3005 \
  --customer-org "$ORG" --customer-phone +15550102 --customer-email cloud@gauss.example)
as bob $RW release approve --request "$REQ"
$PY scripts/demo_aws.py wait-release "$GAUSS" awaiting-code
echo "  the customer relays AWS's code:"
$PY scripts/demo_aws.py otp "$GAUSS" | run $RW release otp --account "$GAUSS"
echo "  The hand-over as for a hand-back, while the account is still ours to manage; then, from"
echo "  inside the account (the member role), the invitation from $ORG is accepted and the account leaves:"
$PY scripts/demo_aws.py wait-execution transfer "$GAUSS" "$REQ" SUCCEEDED
run $RW release status --account "$GAUSS"
$PY scripts/demo_aws.py org-member "$GAUSS"
echo "  its certificate names the customer's organization:"
rm -f .local/gauss-certificate.json
$RW release certificate get --account "$GAUSS" --out .local/gauss-certificate.json
env -i $RW release certificate verify .local/gauss-certificate.json --public-key .local/certificate-key.pem

say "Every release step is on its account's audit trail, and those chains verify"
$RW audit log --account "$EUCLID" | grep -E 'release\.' | cut -c1-160
for a in "$TAU" "$EUCLID" "$KEPLER" "$GAUSS"; do run $RW audit verify --account "$a"; done

say "Demo complete"
