package awsserver

import "testing"

func TestIAMMatching(t *testing.T) {
	pol, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/prod-??????"},
		{"Effect":"Allow","Action":["secretsmanager:ListSecrets"],"Resource":"*"},
		{"Effect":"Allow","Action":"secretsmanager:PutSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:app/*"},
		{"Effect":"Deny","Action":"secretsmanager:PutSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:app/locked-*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	for _, c := range []struct {
		action, resource string
		want             bool
	}{
		{"secretsmanager:GetSecretValue", arn + "app/prod-a1B2c3", true},
		{"SecretsManager:getsecretvalue", arn + "app/prod-a1B2c3", true}, // actions are case-insensitive
		{"secretsmanager:GetSecretValue", arn + "app/prod-old-a1B2c3", false},
		{"secretsmanager:GetSecretValue", arn + "app/prod-a1B2c", false}, // ? is exactly one character
		{"secretsmanager:GetSecretValue", arn + "app/staging-a1B2c3", false},
		{"secretsmanager:ListSecrets", "*", true},
		{"secretsmanager:PutSecretValue", arn + "app/x/y/z-a1B2c3", true},   // * crosses slashes
		{"secretsmanager:PutSecretValue", arn + "app/locked-a1B2c3", false}, // explicit deny wins
		{"secretsmanager:DeleteSecret", arn + "app/prod-a1B2c3", false},
	} {
		if got := Allowed(pol, c.action, c.resource); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}
	for _, bad := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"x","Resource":"*"}]}`,
		`{"Version":"2008-10-17","Statement":[]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"x","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"x","Resource":"*","Condition":{}}]}`,
		`not json`,
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("ParsePolicy(%s) = nil error", bad)
		}
	}
}
