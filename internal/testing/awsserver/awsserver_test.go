package awsserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/keyward/keyward/internal/testing/awsserver"
)

func client(srv *awsserver.Server) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAKEYWARDTESTFAKE0", "keyward-test-fake-secret-access-key-not-real", ""),
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestUnsignedRequestIsRefused(t *testing.T) {
	srv := awsserver.New(t)
	req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(`{"SecretId":"x"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 400 || body["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %v", resp.StatusCode, body)
	}
}

func TestStagesIdempotencyAndCAS(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	c := client(srv)
	const tok1 = "11111111-1111-4111-8111-111111111111"
	const tok2 = "22222222-2222-4222-8222-222222222222"
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/s"), SecretString: aws.String("v1"), ClientRequestToken: aws.String(tok1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/s"), SecretString: aws.String("other")}); code(err) != "ResourceExistsException" {
		t.Fatalf("duplicate create: %v", err)
	}
	put := func(tok, val string, stages ...string) error {
		in := &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/s"), ClientRequestToken: aws.String(tok), SecretString: aws.String(val)}
		if stages != nil {
			in.VersionStages = stages
		}
		_, err := c.PutSecretValue(ctx, in)
		return err
	}
	if err := put(tok2, "v2"); err != nil {
		t.Fatal(err)
	}
	if err := put(tok2, "v2"); err != nil {
		t.Fatalf("same token, same value must be idempotent: %v", err)
	}
	if err := put(tok2, "v3"); code(err) != "ResourceExistsException" {
		t.Fatalf("same token, different value: %v", err)
	}
	st := srv.Stages("app/s")
	if st["AWSCURRENT"] != tok2 || st["AWSPREVIOUS"] != tok1 {
		t.Fatalf("stages %v", st)
	}
	const tok3 = "33333333-3333-4333-8333-333333333333"
	if err := put(tok3, "v3", "AWSPENDING"); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stages("app/s"); st["AWSCURRENT"] != tok2 || st["AWSPENDING"] != tok3 {
		t.Fatalf("a pending version must not become current: %v", st)
	}
	// Moving AWSCURRENT needs RemoveFromVersionId naming its holder.
	mv := func(from string) error {
		_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("app/s"),
			VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tok3), RemoveFromVersionId: aws.String(from)})
		return err
	}
	if err := mv(tok1); code(err) != "InvalidParameterException" {
		t.Fatalf("stale RemoveFromVersionId: %v", err)
	}
	if err := mv(tok2); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stages("app/s"); st["AWSCURRENT"] != tok3 || st["AWSPREVIOUS"] != tok2 {
		t.Fatalf("after the move: %v", st)
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/s"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(out.SecretString) != "v2" || out.CreatedDate == nil {
		t.Fatalf("AWSPREVIOUS: %v", err)
	}
	vs, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("app/s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(vs.Versions) != 3 {
		t.Fatalf("versions: %v", err)
	}
}

func TestListPaginationBatchAndDelete(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.SetPageSize(2)
	c := client(srv)
	for _, n := range []string{"a/1", "a/2", "a/3", "A/4", "b/1"} {
		srv.PutString(n, "v-"+n)
	}
	var names []string
	p := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"a/"}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.SecretList {
			names = append(names, aws.ToString(s.Name))
		}
	}
	if strings.Join(names, ",") != "A/4,a/1,a/2,a/3" {
		t.Fatalf("the name filter is a case-insensitive prefix match: %v", names)
	}
	bo, err := c.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"a/1", "nope", "b/1"}})
	if err != nil || len(bo.SecretValues) != 2 || len(bo.Errors) != 1 || aws.ToString(bo.Errors[0].ErrorCode) != "ResourceNotFoundException" {
		t.Fatalf("batch: %v", err)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a/1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("a/1")}); code(err) != "InvalidRequestException" {
		t.Fatalf("a secret scheduled for deletion: %v", err)
	}
	if _, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("a/1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a/1"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("a/1")}); code(err) != "ResourceNotFoundException" {
		t.Fatalf("force-deleted: %v", err)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("s", "v")
	c := client(srv)
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Status: 429, RetryAfter: "3"}, 1)
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if code(err) != "ThrottlingException" {
		t.Fatalf("429: %v", err)
	}
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Status: 403}, 1)
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); code(err) != "AccessDeniedException" {
		t.Fatalf("403: %v", err)
	}
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Fatalf("faults are used up: %v", err)
	}
	if n := srv.Calls("GetSecretValue"); n != 3 {
		t.Fatalf("calls = %d", n)
	}
}
