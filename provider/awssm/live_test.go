//go:build live && !keyward_omit_awssm

package awssm_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/awssm"
)

// liveClient returns a client for real AWS, or skips: it needs credentials
// in the environment (never instance metadata) and a prefix to write under.
func liveClient(t *testing.T) (*secretsmanager.Client, string) {
	t.Helper()
	prefix := strings.Trim(os.Getenv("KEYWARD_LIVE_AWSSM_PREFIX"), "/")
	if prefix == "" {
		t.Skip("KEYWARD_LIVE_AWSSM_PREFIX is not set (a secret-name prefix the live tests may create and delete under)")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") == "" {
		t.Skip("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_WEB_IDENTITY_TOKEN_FILE)")
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil {
		t.Skipf("loading the AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return secretsmanager.NewFromConfig(cfg), prefix + "/" + hex.EncodeToString(b)
}

type liveHarness struct {
	c    *secretsmanager.Client
	mode awssm.Mode
	name string
}

func (h *liveHarness) MakeDriver(context.Context) (driver.Store, error) {
	return awssm.NewDriver(h.name, &awssm.Options{Mode: h.mode, Client: h.c, ForceDelete: true})
}

func (h *liveHarness) Seed(ctx context.Context, key string, data []byte) error {
	d, _ := h.MakeDriver(ctx)
	_, err := d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

func (h *liveHarness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: h.mode == awssm.ModeKeys, CheckAndSet: true, ConcurrentWriters: 3}
}

// Close force-deletes every secret the case created.
func (h *liveHarness) Close() {
	ctx := context.Background()
	p := secretsmanager.NewListSecretsPaginator(h.c, &secretsmanager.ListSecretsInput{
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{h.name}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, s := range page.SecretList {
			if strings.HasPrefix(aws.ToString(s.Name), h.name) {
				_, _ = h.c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: s.Name, ForceDeleteWithoutRecovery: aws.Bool(true)})
			}
		}
	}
}

func TestLiveConformanceBundle(t *testing.T) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		c, name := liveClient(t)
		return &liveHarness{c: c, mode: awssm.ModeBundle, name: name}, nil
	})
}

func TestLiveConformanceKeys(t *testing.T) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		c, name := liveClient(t)
		return &liveHarness{c: c, mode: awssm.ModeKeys, name: name}, nil
	})
}
