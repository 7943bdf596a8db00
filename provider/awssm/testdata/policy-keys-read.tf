# keyward policy: read access to awssm://dharmamind/production?mode=keys (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# BatchGetSecretValue (run, export: 20 keys a request) takes no resource; each value still needs GetSecretValue on its own ARN.
# Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.
# keyward history (versions, never values) also needs secretsmanager:ListSecretVersionIds; it is not granted here.
data "aws_iam_policy_document" "keyward_production_read" {
  statement {
    sid       = "KeywardRead"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:dharmamind/production/DATABASE_URL-??????", "arn:aws:secretsmanager:us-east-1:123456789012:secret:dharmamind/production/JWT_SECRET_KEY-??????"]
  }
  statement {
    sid       = "KeywardBatchRead"
    effect    = "Allow"
    actions   = ["secretsmanager:BatchGetSecretValue"]
    resources = ["*"]
  }
}
