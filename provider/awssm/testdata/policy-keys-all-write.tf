# keyward policy: write access to awssm://dharmamind/production?mode=keys (environment production)
# for every key in the store, and nothing more.
# ListSecrets and BatchGetSecretValue take no resource: they list names, and each value still needs GetSecretValue on its own ARN.
# CreateSecret is only used by the first write of a secret; drop it once the secret exists.
# keyward history (versions, never values) also needs secretsmanager:ListSecretVersionIds; it is not granted here.
data "aws_iam_policy_document" "keyward_production_write" {
  statement {
    sid       = "KeywardRead"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:dharmamind/production/*"]
  }
  statement {
    sid       = "KeywardListAndBatchRead"
    effect    = "Allow"
    actions   = ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"]
    resources = ["*"]
  }
  statement {
    sid       = "KeywardWrite"
    effect    = "Allow"
    actions   = ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:DescribeSecret", "secretsmanager:RestoreSecret"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:dharmamind/production/*"]
  }
}
