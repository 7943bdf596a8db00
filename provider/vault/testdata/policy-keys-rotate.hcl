# keyward policy: rotate access to vault://vault.example.com/dharmamind/production?layout=keys (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# The KV v2 mount is taken to be "dharmamind/"; keyward finds it at run time through Vault's mount detection.
# Pin it with ?mount=dharmamind&kv=2 in the store URL to skip detection and drop the sys/internal/ui/mounts stanza.
# Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.
# auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.

# Mount detection: which mount holds the path, and its KV version (as `vault kv` asks).
# Vault and OpenBao answer it for a token with any capability inside the mount, so
# this stanza documents the call; it grants nothing more.
path "sys/internal/ui/mounts/dharmamind/production" {
  capabilities = ["read"]
}

# Key DATABASE_URL.
path "dharmamind/data/production/DATABASE_URL" {
  capabilities = ["create", "read", "update"]
}

# Key DATABASE_URL's rotation record.
path "dharmamind/data/production/DATABASE_URL_ROTATION" {
  capabilities = ["create", "read", "update"]
}

# Key DATABASE_URL's versions (the previous value during the grace period).
path "dharmamind/metadata/production/DATABASE_URL" {
  capabilities = ["read"]
}

# Key JWT_SECRET_KEY.
path "dharmamind/data/production/JWT_SECRET_KEY" {
  capabilities = ["create", "read", "update"]
}

# Key JWT_SECRET_KEY's rotation record.
path "dharmamind/data/production/JWT_SECRET_KEY_ROTATION" {
  capabilities = ["create", "read", "update"]
}

# Key JWT_SECRET_KEY's versions (the previous value during the grace period).
path "dharmamind/metadata/production/JWT_SECRET_KEY" {
  capabilities = ["read"]
}
