package audit

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/fsutil"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service account.
var ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// CurrentActor describes this process: OS user and uid, host, pid, process
// name, CI identity from standard CI variables, and the Kubernetes service
// account when running in a pod. It never records a token.
func CurrentActor(getenv func(string) string) Actor {
	a := Actor{PID: os.Getpid(), Process: filepath.Base(os.Args[0]), UID: strconv.Itoa(os.Getuid())}
	if u, err := user.Current(); err == nil {
		a.User = u.Username
	} else {
		a.User = getenv("USER")
	}
	a.Host, _ = os.Hostname()
	a.CI = ciFromEnv(getenv)
	if getenv("KUBERNETES_SERVICE_HOST") != "" {
		a.K8s = k8sIdentity(getenv)
	}
	return a
}

func ciFromEnv(getenv func(string) string) *CI {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return &CI{System: "github-actions", Actor: getenv("GITHUB_ACTOR"), Repo: getenv("GITHUB_REPOSITORY"),
			Run: getenv("GITHUB_RUN_ID"), Job: getenv("GITHUB_JOB")}
	case getenv("GITLAB_CI") != "":
		return &CI{System: "gitlab", Actor: getenv("GITLAB_USER_LOGIN"), Repo: getenv("CI_PROJECT_PATH"),
			Run: getenv("CI_PIPELINE_ID"), Job: getenv("CI_JOB_ID")}
	case getenv("CIRCLECI") == "true":
		return &CI{System: "circleci", Actor: getenv("CIRCLE_USERNAME"), Repo: getenv("CIRCLE_PROJECT_REPONAME"),
			Run: getenv("CIRCLE_WORKFLOW_ID"), Job: getenv("CIRCLE_BUILD_NUM")}
	case getenv("BUILDKITE") == "true":
		return &CI{System: "buildkite", Actor: getenv("BUILDKITE_BUILD_CREATOR"), Repo: getenv("BUILDKITE_PIPELINE_SLUG"),
			Run: getenv("BUILDKITE_BUILD_ID"), Job: getenv("BUILDKITE_JOB_ID")}
	case getenv("JENKINS_URL") != "":
		return &CI{System: "jenkins", Repo: getenv("JOB_NAME"), Run: getenv("BUILD_ID")}
	case getenv("CI") == "true" || getenv("CI") == "1":
		return &CI{System: "ci"}
	}
	return nil
}

// k8sIdentity reads the namespace file and the service account name from
// the token's payload (decoded, not verified; the token itself is never kept).
func k8sIdentity(getenv func(string) string) *K8s {
	k := &K8s{Pod: getenv("HOSTNAME")}
	if b, err := fsutil.ReadFile(filepath.Join(ServiceAccountDir, "namespace"), fsutil.MaxIdentityFile); err == nil {
		k.Namespace = strings.TrimSpace(string(b))
	}
	if b, err := fsutil.ReadFile(filepath.Join(ServiceAccountDir, "token"), fsutil.MaxIdentityFile); err == nil {
		k.ServiceAccount = saFromToken(string(b))
	}
	return k
}

func saFromToken(tok string) string {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	// system:serviceaccount:<namespace>:<name>
	if f := strings.Split(claims.Sub, ":"); len(f) == 4 && f[0] == "system" && f[1] == "serviceaccount" {
		return f[3]
	}
	return ""
}
