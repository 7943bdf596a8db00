//go:build !keyward_omit_awssm

package awssm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/keyward/keyward/driver"
)

// keysDriver is ?mode=keys: one secret per key, named PREFIX/KEY (see
// # Modes); its rotation uses the service's staging labels
// (rotation_keys.go).
type keysDriver struct {
	conn
	prefix string // NAME; "" makes each key a secret name
}

func (d *keysDriver) secretName(key string) string {
	if d.prefix == "" {
		return key
	}
	return d.prefix + "/" + key
}

func (d *keysDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sv, err := d.getSecret(ctx, d.secretName(key), version)
	if err != nil {
		return nil, err
	}
	return &driver.Value{Data: sv.data, Version: sv.ver}, nil
}

func (d *keysDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]string, len(keys))
	var names []string
	for _, k := range keys {
		n := d.secretName(k)
		if _, dup := byName[n]; !dup {
			names = append(names, n)
		}
		byName[n] = k
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := 0; i < len(names); i += 20 {
		chunk := names[i:min(i+20, len(names))]
		g.Go(func() error {
			res, err := c.BatchGetSecretValue(gctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk}, oneAttempt)
			if err != nil {
				return wrapSDK(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range res.Errors {
				if code := aws.ToString(e.ErrorCode); code == "ResourceNotFoundException" ||
					code == "InvalidRequestException" && isScheduledForDeletion(&smithy.GenericAPIError{Code: code, Message: aws.ToString(e.Message)}) {
					continue
				}
				return &keyError{secret: aws.ToString(e.SecretId),
					err: &smithy.GenericAPIError{Code: aws.ToString(e.ErrorCode), Message: aws.ToString(e.Message)}}
			}
			for _, sv := range res.SecretValues {
				k, ok := byName[aws.ToString(sv.Name)]
				if !ok {
					continue
				}
				out[k] = &driver.Value{
					Data:    valueBytes(sv.SecretString, sv.SecretBinary),
					Version: versionOf(sv.VersionId, sv.CreatedDate, sv.VersionStages),
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Several keys can name one secret only if they are equal; copy for each.
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			if v, ok := out[byName[d.secretName(k)]]; ok {
				out[k] = &driver.Value{Data: append([]byte(nil), v.Data...), Version: v.Version}
			}
		}
	}
	return out, nil
}

func (d *keysDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	prefix := ""
	in := &secretsmanager.ListSecretsInput{}
	if d.prefix != "" {
		prefix = d.prefix + "/"
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}}
	}
	var out []driver.KeyInfo
	p := secretsmanager.NewListSecretsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, oneAttempt)
		if err != nil {
			return nil, wrapSDK(err)
		}
		for _, e := range page.SecretList {
			n := aws.ToString(e.Name)
			// The service's name filter is a case-insensitive prefix match.
			if !strings.HasPrefix(n, prefix) || n == prefix || e.DeletedDate != nil {
				continue
			}
			ki := driver.KeyInfo{Key: strings.TrimPrefix(n, prefix)}
			if e.LastChangedDate != nil {
				ki.Updated = e.LastChangedDate.UTC()
			}
			for id, stages := range e.SecretVersionsToStages {
				for _, s := range stages {
					if s == "AWSCURRENT" {
						ki.Version = id
					}
				}
			}
			out = append(out, ki)
		}
	}
	return out, nil
}

// currentVersion returns the VersionId holding AWSCURRENT, "" if none.
func (d *keysDriver) currentVersion(ctx context.Context, name string) (string, error) {
	m, err := d.stages(ctx, name)
	if err != nil {
		return "", err
	}
	return m.holder(stageCurrent), nil
}

func (d *keysDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return driver.Version{}, err
	}
	ifv := ifVersion(opts)
	name := d.secretName(key)
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	str, bin := secretInput(data)
	create := func() (driver.Version, error) {
		token := newToken()
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(name), ClientRequestToken: aws.String(token), SecretString: str, SecretBinary: bin,
		}, oneAttempt)
		if err != nil {
			return driver.Version{}, wrapSDK(err)
		}
		return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: []string{"AWSCURRENT"}}, nil
	}
	restore := func() error {
		_, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)}, oneAttempt)
		return wrapSDK(err)
	}
	switch ifv {
	case "":
	case "0":
		v, err := create()
		if err != nil && isScheduledForDeletion(err) {
			// Scheduled for deletion reads as absent: bring it back and write.
			if err := restore(); err != nil {
				return driver.Version{}, err
			}
			cur, err := d.currentVersion(ctx, name)
			if err != nil {
				return driver.Version{}, err
			}
			return d.casWrite(ctx, name, data, cur)
		}
		if apiCode(err) == "ResourceExistsException" {
			return driver.Version{}, &keyError{err: errors.Join(errConflict, err), secret: name}
		}
		return v, err
	default:
		cur, err := d.currentVersion(ctx, name)
		if err != nil {
			if errorCode(err) == driver.NotFound {
				return driver.Version{}, &keyError{err: errConflict, secret: name}
			}
			return driver.Version{}, err
		}
		if cur != ifv {
			return driver.Version{}, &keyError{err: errConflict, secret: name}
		}
		return d.casWrite(ctx, name, data, ifv)
	}
	for attempt := 0; attempt < 3; attempt++ {
		token := newToken()
		out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(name), ClientRequestToken: aws.String(token), SecretString: str, SecretBinary: bin,
		}, oneAttempt)
		if err == nil {
			return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: out.VersionStages}, nil
		}
		switch {
		case isScheduledForDeletion(err):
			if err := restore(); err != nil {
				return driver.Version{}, err
			}
			continue
		case apiCode(err) == "ResourceNotFoundException":
			v, err := create()
			if apiCode(err) == "ResourceExistsException" {
				continue // created concurrently: write a version on top
			}
			return v, err
		}
		return driver.Version{}, wrapSDK(err)
	}
	return driver.Version{}, &keyError{err: errContention, secret: name}
}

func (d *keysDriver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := d.api(ctx)
	if err != nil {
		return err
	}
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(d.secretName(key))}
	if d.opts.ForceDelete {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else if d.opts.RecoveryWindowDays != 0 {
		in.RecoveryWindowInDays = aws.Int64(int64(d.opts.RecoveryWindowDays))
	}
	_, err = c.DeleteSecret(ctx, in, oneAttempt)
	return wrapSDK(err)
}

func (d *keysDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.versions(ctx, d.secretName(key))
}
