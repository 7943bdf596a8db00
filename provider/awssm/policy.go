//go:build !keyward_omit_awssm

package awssm

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func init() { policy.Register(Scheme, Policy) }

// Statement is one IAM policy statement.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// IAMPolicy is an IAM policy document.
type IAMPolicy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Policy derives the IAM identity policy granting exactly the Secrets
// Manager calls this provider makes for r.Access on the store r.URL names.
//
// Resources are secret ARNs in the store's region (the URL's region=, else
// AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 as the driver) and
// account (r.Account, else "*"), each ending in "-??????": the six random
// characters the service appends to every secret's ARN. A name pattern
// without them (the guide's "dharmamind/*") also matches
// "dharmamind/production-old" or any secret whose name merely starts alike.
//
//   - bundle (default): GetSecretValue on the one secret; write and rotate
//     (whose KEY_OLD/KEY_PENDING/KEY_ROTATION are fields of the same secret)
//     add PutSecretValue and UpdateSecretVersionStage (the compare-and-swap
//     on AWSCURRENT) and CreateSecret (the first write);
//   - keys (?mode=keys): GetSecretValue on NAME/KEY for each key, plus
//     BatchGetSecretValue (resource "*", the service's only choice) for
//     reading many at once; --all grants NAME/* and ListSecrets ("*");
//     write adds PutSecretValue, CreateSecret, DescribeSecret,
//     UpdateSecretVersionStage and RestoreSecret (a key scheduled for
//     deletion is restored when written again); rotate uses the same calls
//     (staging labels AWSPENDING → AWSCURRENT → AWSPREVIOUS).
func Policy(_ context.Context, r *policy.Request) (*policy.Document, error) {
	name, mode, region, err := policyTarget(r)
	if err != nil {
		return nil, err
	}
	account := r.Account
	var notes []string
	if account != "" && !accountRe.MatchString(account) {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "awssm: account %q is not a 12-digit AWS account id", account)
	}
	if account == "" {
		if m := roleARNRe.FindStringSubmatch(r.Env("AWS_ROLE_ARN")); m != nil {
			account = m[1]
			notes = append(notes, "The account ("+account+") is AWS_ROLE_ARN's; pass --account ID to name another.")
		}
	}
	if account == "" {
		account = "*"
		notes = append(notes, "The account is not known: pass --account ID to name it instead of \"*\".")
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	arn := func(n string) string {
		return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s", partition, region, account, n)
	}
	var resources []string
	switch {
	case mode == ModeBundle:
		resources = []string{arn(name + "-??????")}
	case r.All && name == "":
		resources = []string{arn("*")}
	case r.All:
		resources = []string{arn(name + "/*")}
	default:
		for _, k := range r.Keys {
			n := k
			if name != "" {
				n = name + "/" + k
			}
			resources = append(resources, arn(n+"-??????"))
		}
	}
	p := IAMPolicy{Version: "2012-10-17"}
	p.Statement = append(p.Statement, Statement{Sid: "KeywardRead", Effect: "Allow",
		Action: []string{"secretsmanager:GetSecretValue"}, Resource: resources})
	if mode == ModeKeys {
		batch := Statement{Sid: "KeywardBatchRead", Effect: "Allow", Action: []string{"secretsmanager:BatchGetSecretValue"}, Resource: []string{"*"}}
		if r.All {
			batch.Sid = "KeywardListAndBatchRead"
			batch.Action = append(batch.Action, "secretsmanager:ListSecrets")
			notes = append(notes, "ListSecrets and BatchGetSecretValue take no resource: they list names, and each value still needs GetSecretValue on its own ARN.")
		} else {
			notes = append(notes, "BatchGetSecretValue (run, export: 20 keys a request) takes no resource; each value still needs GetSecretValue on its own ARN.",
				"Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.")
		}
		p.Statement = append(p.Statement, batch)
	}
	if r.Access.AtLeast(policy.Write) {
		w := Statement{Sid: "KeywardWrite", Effect: "Allow", Resource: resources,
			Action: []string{"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}}
		if mode == ModeKeys {
			w.Action = append(w.Action, "secretsmanager:DescribeSecret", "secretsmanager:RestoreSecret")
		}
		if r.Access == policy.Rotate {
			w.Sid = "KeywardWriteAndRotate"
			if mode == ModeBundle {
				notes = append(notes, "Rotation keeps the previous value in the KEY_OLD field of the same secret: it needs no more than write.")
			} else {
				notes = append(notes, "Rotation uses the service's staging labels (AWSPENDING, AWSCURRENT, AWSPREVIOUS) through PutSecretValue, UpdateSecretVersionStage and DescribeSecret.")
			}
		}
		notes = append(notes, "CreateSecret is only used by the first write of a secret; drop it once the secret exists.")
		p.Statement = append(p.Statement, w)
	}
	notes = append(notes, "keyward history (versions, never values) also needs secretsmanager:ListSecretVersionIds; it is not granted here.")
	if mode == ModeBundle && !r.All {
		notes = append(notes, "IAM grants per secret, not per JSON field: this reaches every key of "+name+".")
	}
	native, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return &policy.Document{Language: "json", Native: string(native) + "\n", Document: p,
		Terraform: terraform(r, p, notes), Notes: notes}, nil
}

var (
	secretNameRe = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	regionRe     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	accountRe    = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRe    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/`)
)

func policyTarget(r *policy.Request) (name string, mode Mode, region string, err error) {
	u := r.URL
	name = strings.Trim(u.Host+u.Path, "/")
	q := u.Query()
	mode = Mode(q.Get("mode"))
	switch mode {
	case "":
		mode = ModeBundle
	case ModeBundle, ModeKeys:
	default:
		return "", "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "awssm: mode=%q is not bundle or keys", mode)
	}
	if name == "" && mode == ModeBundle {
		return "", "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "awssm: bundle mode needs a secret name (awssm://NAME)")
	}
	names := []string{name}
	if !r.All {
		names = append(names, r.Keys...)
	}
	for _, n := range names {
		if n != "" && !secretNameRe.MatchString(n) {
			return "", "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "awssm: %q is not a Secrets Manager name (letters, digits and /_+=.@-)", n)
		}
	}
	region = q.Get("region")
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = r.Env(v)
		}
	}
	if region == "" {
		region = defaultRegion
	}
	if !regionRe.MatchString(region) {
		return "", "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "awssm: region %q is not an AWS region", region)
	}
	return name, mode, region, nil
}

func terraform(r *policy.Request, p IAMPolicy, notes []string) string {
	label := "keyward"
	if r.Environment != "" {
		label += "_" + tfIdent(r.Environment)
	}
	label += "_" + string(r.Access)
	var b strings.Builder
	b.WriteString(policy.Comment("# ", policy.Header(r)...))
	b.WriteString(policy.Comment("# ", notes...))
	fmt.Fprintf(&b, "data \"aws_iam_policy_document\" %q {\n", label)
	for _, st := range p.Statement {
		b.WriteString("  statement {\n")
		fmt.Fprintf(&b, "    sid       = %q\n", st.Sid)
		fmt.Fprintf(&b, "    effect    = %q\n", st.Effect)
		fmt.Fprintf(&b, "    actions   = %s\n", tfList(st.Action))
		fmt.Fprintf(&b, "    resources = %s\n", tfList(st.Resource))
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func tfList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func tfIdent(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
