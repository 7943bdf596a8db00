//go:build !keyward_omit_awssm

package awssm_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/awssm"
	"github.com/keyward/keyward/rotation"
)

const policyCanary = "aws-policy-canary-value-5e1d77"

func derivePolicy(t *testing.T, raw string, access policy.Access, all bool) *policy.Document {
	t.Helper()
	return providertest.Derive(t, raw, policy.Request{Access: access, Keys: []string{"JWT_SECRET_KEY", "DATABASE_URL"}, All: all,
		Account: awsserver.Account, Getenv: func(k string) string {
			if k == "AWS_REGION" {
				return awsserver.Region
			}
			return ""
		}}, policyCanary)
}

// TestPolicyEnforced binds the printed IAM policy to the test credentials
// in the in-process Secrets Manager (which enforces ARN patterns) and runs
// get, batch get, set and rotate through the real SDK: exactly the calls of
// the access level work, and the staging environment, and a secret whose
// name merely starts like production's, are refused.
func TestPolicyEnforced(t *testing.T) {
	for _, mode := range []awssm.Mode{awssm.ModeBundle, awssm.ModeKeys} {
		for _, access := range []policy.Access{policy.Read, policy.Write, policy.Rotate} {
			t.Run(string(mode)+"/"+string(access), func(t *testing.T) {
				ctx := context.Background()
				srv := awsserver.New(t)
				for _, env := range []string{"production", "staging", "production-old"} {
					if mode == awssm.ModeBundle {
						srv.PutString("dharmamind/"+env, `{"jwt_secret_key":"`+policyCanary+`","database_url":"`+policyCanary+`"}`)
					} else {
						srv.PutString("dharmamind/"+env+"/JWT_SECRET_KEY", policyCanary)
						srv.PutString("dharmamind/"+env+"/DATABASE_URL", policyCanary)
					}
				}
				q := ""
				if mode == awssm.ModeKeys {
					q = "?mode=keys"
				}
				doc := derivePolicy(t, "awssm://dharmamind/production"+q, access, false)
				if err := srv.SetPolicy(fakeAccessKey, []byte(doc.Native)); err != nil {
					t.Fatalf("the printed policy does not load: %v\n%s", err, doc.Native)
				}
				open := func(name string) *keyward.Store {
					s, err := awssm.OpenStore(name, &awssm.Options{Mode: mode, Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1, Retries: -1})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
				prod := open("dharmamind/production")
				if _, err := prod.Get(ctx, "JWT_SECRET_KEY"); err != nil {
					t.Fatalf("get: %v", err)
				}
				got, err := prod.GetMany(ctx, []string{"JWT_SECRET_KEY", "DATABASE_URL"})
				if err != nil || len(got) != 2 {
					t.Fatalf("get many: %d values, %v", len(got), err)
				}
				_, err = prod.Put(ctx, "DATABASE_URL", keyward.NewSecret([]byte("postgresql://new")), nil)
				if want := access.AtLeast(policy.Write); (err == nil) != want {
					t.Fatalf("set with the %s policy: %v, want allowed=%v", access, err, want)
				} else if err != nil && keyward.ErrorCode(err) != keyward.PermissionDenied {
					t.Fatalf("set refused with %v, want permission denied", err)
				}
				_, err = rotation.Rotate(ctx, prod, "JWT_SECRET_KEY", &rotation.Options{NewValue: rotation.Generator("urlsafe")})
				// Secrets Manager rotation (a KEY_OLD field, or staging
				// labels) uses exactly the calls a write uses.
				if want := access.AtLeast(policy.Write); (err == nil) != want {
					t.Fatalf("rotate with the %s policy: %v, want allowed=%v\n%s", access, err, want, doc.Native)
				} else if err != nil && keyward.ErrorCode(err) != keyward.PermissionDenied {
					t.Fatalf("rotate refused with %v, want permission denied", err)
				}
				for _, other := range []string{"dharmamind/staging", "dharmamind/production-old"} {
					if _, err := open(other).Get(ctx, "JWT_SECRET_KEY"); keyward.ErrorCode(err) != keyward.PermissionDenied {
						t.Fatalf("%s with the production policy: %v, want permission denied", other, err)
					}
				}
				if mode == awssm.ModeKeys {
					if _, err := prod.List(ctx); keyward.ErrorCode(err) != keyward.PermissionDenied {
						t.Fatalf("list without --all: %v, want permission denied (ListSecrets is not granted)", err)
					}
				}
			})
		}
	}
}

// TestPolicyGuideExampleIsOverBroad: the guide's policy
// (GetSecretValue on dharmamind/*) lets production read staging's secret
// and a look-alike name; keyward's does not (TestPolicyEnforced).
func TestPolicyGuideExampleIsOverBroad(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/staging", `{"jwt_secret_key":"`+policyCanary+`"}`)
	guide := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"arn:aws:secretsmanager:*:*:secret:dharmamind/*"}]}`
	if err := srv.SetPolicy(fakeAccessKey, []byte(guide)); err != nil {
		t.Fatal(err)
	}
	s, err := awssm.OpenStore("dharmamind/staging", &awssm.Options{Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
		t.Fatalf("the guide's policy should reach staging (it is over-broad): %v", err)
	}
}

// TestPolicyAllKeysMode: --all in keys mode grants the NAME/* folder and
// listing.
func TestPolicyAllKeysMode(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production/A", policyCanary)
	srv.PutString("dharmamind/staging/A", policyCanary)
	doc := derivePolicy(t, "awssm://dharmamind/production?mode=keys", policy.Read, true)
	if err := srv.SetPolicy(fakeAccessKey, []byte(doc.Native)); err != nil {
		t.Fatal(err)
	}
	s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: awssm.ModeKeys, Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.List(ctx)
	if err != nil || len(keys) != 1 || keys[0].Key != "A" {
		t.Fatalf("list = %v, %v", keys, err)
	}
	if _, err := s.Get(ctx, "A"); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyAccountAndPartition: the account comes from --account, else
// AWS_ROLE_ARN (web identity), else "*"; China and GovCloud regions get
// their partitions.
func TestPolicyAccountAndPartition(t *testing.T) {
	for _, c := range []struct {
		url, account, roleARN, want string
	}{
		{"awssm://app/prod", "", "", "arn:aws:secretsmanager:us-east-1:*:secret:app/prod-??????"},
		{"awssm://app/prod", "", "arn:aws:iam::210987654321:role/api", "arn:aws:secretsmanager:us-east-1:210987654321:secret:app/prod-??????"},
		{"awssm://app/prod", "123456789012", "arn:aws:iam::210987654321:role/api", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/prod-??????"},
		{"awssm://app/prod?region=cn-north-1", "123456789012", "", "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:app/prod-??????"},
		{"awssm://app/prod?region=us-gov-west-1", "123456789012", "", "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:app/prod-??????"},
	} {
		u, _ := policy.ParseURL(c.url)
		doc, err := policy.Derive(context.Background(), &policy.Request{URL: u, Keys: []string{"K"}, Account: c.account,
			Getenv: func(k string) string {
				if k == "AWS_ROLE_ARN" {
					return c.roleARN
				}
				return ""
			}})
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.Document.(awssm.IAMPolicy).Statement[0].Resource[0]; got != c.want {
			t.Errorf("%s account=%q role=%q: %s, want %s", c.url, c.account, c.roleARN, got, c.want)
		}
	}
	u, _ := policy.ParseURL("awssm://app/prod")
	if _, err := policy.Derive(context.Background(), &policy.Request{URL: u, Keys: []string{"K"}, Account: "12345"}); err == nil {
		t.Error("a 5-digit account accepted")
	}
}

// TestPolicyGolden pins the IAM JSON and Terraform, and parses them back.
func TestPolicyGolden(t *testing.T) {
	for _, c := range []struct {
		name, url string
		access    policy.Access
		all       bool
	}{
		{"bundle-read", "awssm://dharmamind/production", policy.Read, false},
		{"bundle-rotate", "awssm://dharmamind/production?region=eu-west-1", policy.Rotate, false},
		{"keys-read", "awssm://dharmamind/production?mode=keys", policy.Read, false},
		{"keys-all-write", "awssm://dharmamind/production?mode=keys", policy.Write, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := derivePolicy(t, c.url, c.access, c.all)
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".json"), doc.Native)
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".tf"), doc.Terraform)
			var p awssm.IAMPolicy
			dec := json.NewDecoder(strings.NewReader(doc.Native))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Version != "2012-10-17" || len(p.Statement) == 0 {
				t.Fatalf("bad document %+v", p)
			}
			for _, st := range p.Statement {
				for _, r := range st.Resource {
					wild := r == "*"
					if wild && st.Sid != "KeywardBatchRead" && st.Sid != "KeywardListAndBatchRead" {
						t.Errorf("statement %s grants resource *", st.Sid)
					}
					if !wild && !strings.HasSuffix(r, "-??????") && !strings.HasSuffix(r, "/*") {
						t.Errorf("resource %s lacks the -?????? suffix", r)
					}
					if !wild && !strings.Contains(r, ":"+awsserver.Account+":") {
						t.Errorf("resource %s does not name the account", r)
					}
				}
				for _, a := range st.Action {
					if strings.Contains(a, "*") {
						t.Errorf("action wildcard %s", a)
					}
				}
			}
			if _, err := awsserver.ParsePolicy([]byte(doc.Native)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
