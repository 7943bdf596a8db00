# keyward policy: read access to vault:///dharmamind/production (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# The KV v2 mount is taken to be "dharmamind/"; keyward finds it at run time through Vault's mount detection.
# Pin it with ?mount=dharmamind&kv=2 in the store URL to skip detection and drop the sys/internal/ui/mounts stanza.
# keyward history (versions, never values) also needs read on the metadata path; it is not granted here.
# Vault grants per secret, not per field: this policy reaches every field of dharmamind/data/production, not only the keys named.
# auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.

# Mount detection: which mount holds the path, and its KV version (as `vault kv` asks).
# Vault and OpenBao answer it for a token with any capability inside the mount, so
# this stanza documents the call; it grants nothing more.
path "sys/internal/ui/mounts/dharmamind/production" {
  capabilities = ["read"]
}

# The environment's one secret: every key is a field of it (get, list, run: one request).
path "dharmamind/data/production" {
  capabilities = ["read"]
}
