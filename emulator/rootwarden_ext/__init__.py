"""Root Warden extensions for moto 5.2.5 (server mode).

Modules:
  common        request parsing (SigV4 credential scope, protocols) and AWS error shapes
  middleware    the WSGI middleware in front of moto's server app
  root_sessions STS AssumeRoot, IAM calls in a root session, per-account root user state
  account_api   AWS Account API primary-email operations (the OTP is mailed, aws_mail)
  aws_mail      mail AWS sends to a root address (OTP, reset link, password changed, MFA added)
  ses_delivery  storing inbound mail in S3 as ses.amazonaws.com (bucket and key policy checks)
  ses_receipt   SES inbound receipt: the active rule set's rules and S3 / Lambda actions
  console       test-only stand-ins for the root sign-in page (forgot / reset password, MFA)
  org_lifecycle CloseAccount (states, quota, mail), handshakes from a second organization,
                contact information (account release, issue 14)
  kms_state     KMS key-state enforcement (DisabledException / KMSInvalidStateException)
  function_host Lambda Invoke -> real handler binaries through `cargo lambda watch`
  function_urls Lambda function URLs (AWS_IAM, SigV4) and the URL-only invoke permission
  moto_patches  every monkeypatch of moto internals (pinned to moto 5.2.5)
  iam/          the IAM enforcement engine (SigV4, policy evaluation, per-service classification)
"""
