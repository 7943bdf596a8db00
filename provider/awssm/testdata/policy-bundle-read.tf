# keyward policy: read access to awssm://dharmamind/production (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# keyward history (versions, never values) also needs secretsmanager:ListSecretVersionIds; it is not granted here.
# IAM grants per secret, not per JSON field: this reaches every key of dharmamind/production.
data "aws_iam_policy_document" "keyward_production_read" {
  statement {
    sid       = "KeywardRead"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:dharmamind/production-??????"]
  }
}
