"""IAM enforcement engine for the emulator (replaces moto's action-only checker).

Modules:
  policy         policy parsing and evaluation (pure; unit-tested)
  principals     access key -> principal, identity policies; create_user, mint_role_credentials
  sigv4          SigV4 verification (header and presigned query auth)
  requests       request -> (action, resource, context, resource policy) checks; sts, iam, sqs,
                 sns, cloudwatch, logs, states, secretsmanager, organizations, account, ses v1
  services_data  DynamoDB and KMS classification
  services_rest  S3, Lambda, SES v2 and Scheduler classification
  implied        KMS calls S3, SQS and Secrets Manager make for the caller (kms:ViaService)
  errors         AWS-shaped authentication / authorization errors per protocol
  calllog        the (principal, action, resource, decision) call log
  enforce        enable(), check(req), authorize(...), the /_rootwarden/iam/* endpoints
"""
