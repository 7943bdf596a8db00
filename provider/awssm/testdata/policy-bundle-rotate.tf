# keyward policy: rotate access to awssm://dharmamind/production?region=eu-west-1 (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
data "aws_iam_policy_document" "keyward_production_rotate" {
  statement {
    sid       = "KeywardRead"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:dharmamind/production-??????"]
  }
  statement {
    sid       = "KeywardWriteAndRotate"
    effect    = "Allow"
    actions   = ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
    resources = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:dharmamind/production-??????"]
  }
}
