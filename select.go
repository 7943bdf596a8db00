package keyward

import (
	"net/url"
	"strings"
)

// The guide's provider names for SECRET_PROVIDER.
var guideProviders = []string{"env", "aws", "vault", "gcp", "azure"}

// StoreURLFromEnv picks a store URL from the environment, in this order:
//
//  1. KEYWARD_STORE, a store URL;
//  2. SECRET_PROVIDER, the guide's variable, with its companions:
//     env → env://; aws → awssm://$AWS_SECRET_NAME; vault → vault:///$VAULT_PATH
//     (server from VAULT_ADDR; AppRole when VAULT_ROLE_ID is set);
//     gcp → gcpsm://projects/$GCP_PROJECT; azure → azurekv://<host of $AZURE_VAULT_URL>.
//
// It returns "" when neither is set. A missing companion variable is an
// error that names it; there are no silent defaults.
func StoreURLFromEnv(getenv func(string) string) (string, error) {
	if s := strings.TrimSpace(getenv("KEYWARD_STORE")); s != "" {
		return s, nil
	}
	p := strings.ToLower(strings.TrimSpace(getenv("SECRET_PROVIDER")))
	if p == "" {
		return "", nil
	}
	need := func(name string) (string, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return "", Errorf(InvalidArgument, "select store", "SECRET_PROVIDER=%s needs %s to be set", p, name)
		}
		return v, nil
	}
	switch p {
	case "env":
		return "env://", nil
	case "aws":
		name, err := need("AWS_SECRET_NAME")
		if err != nil {
			return "", err
		}
		return "awssm://" + strings.TrimPrefix(name, "/"), nil
	case "vault":
		if _, err := need("VAULT_ADDR"); err != nil {
			return "", err
		}
		path, err := need("VAULT_PATH")
		if err != nil {
			return "", err
		}
		u := "vault:///" + strings.Trim(path, "/")
		if getenv("VAULT_ROLE_ID") != "" {
			if _, err := need("VAULT_SECRET_ID"); err != nil && getenv("VAULT_SECRET_ID_FILE") == "" {
				return "", Errorf(InvalidArgument, "select store", "SECRET_PROVIDER=vault with VAULT_ROLE_ID needs VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE) to be set")
			}
			u += "?auth=approle"
		}
		return u, nil
	case "gcp":
		proj, err := need("GCP_PROJECT")
		if err != nil {
			return "", err
		}
		return "gcpsm://projects/" + proj, nil
	case "azure":
		raw, err := need("AZURE_VAULT_URL")
		if err != nil {
			return "", err
		}
		vu, perr := url.Parse(raw)
		if perr != nil || vu.Host == "" {
			return "", Errorf(InvalidArgument, "select store", "AZURE_VAULT_URL is not a URL like https://NAME.vault.azure.net/")
		}
		return "azurekv://" + vu.Host, nil
	}
	return "", Errorf(InvalidArgument, "select store", "SECRET_PROVIDER=%q is not one of %s", p, strings.Join(guideProviders, ", "))
}

// GuideKeyName maps a key the way the guide's get_secret does for a
// provider: lower-case for AWS bundle fields, lower-case with "-" for "_"
// for GCP and Azure names. Other providers keep the key as it is.
func GuideKeyName(provider, key string) string {
	switch provider {
	case "aws":
		return strings.ToLower(key)
	case "gcp", "azure":
		return strings.ReplaceAll(strings.ToLower(key), "_", "-")
	}
	return key
}
