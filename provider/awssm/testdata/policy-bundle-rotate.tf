# keyward policy: rotate access to awssm://dharmamind/production?region=eu-west-1 (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# Rotation keeps the previous value in the KEY_OLD field of the same secret: it needs no more than write.
# CreateSecret is only used by the first write of a secret; drop it once the secret exists.
# keyward history (versions, never values) also needs secretsmanager:ListSecretVersionIds; it is not granted here.
# IAM grants per secret, not per JSON field: this reaches every key of dharmamind/production.
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
