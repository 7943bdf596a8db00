# keyward policy: read access to vault:///production?layout=keys&mount=dharmamind (environment production)
# for every key in the store, and nothing more.
# The mount is pinned (mount=dharmamind); add kv=2 to the URL to skip the KV-version check too.
# keyward history (versions, never values) also needs read on the metadata path; it is not granted here.
# auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.

# KV version detection for the pinned mount.
path "sys/internal/ui/mounts/dharmamind" {
  capabilities = ["read"]
}

# Every key: one secret per key under dharmamind/data/production/.
path "dharmamind/data/production/*" {
  capabilities = ["read"]
}

# Listing the keys (keyward list, run and export of the whole store).
path "dharmamind/metadata/production/" {
  capabilities = ["list"]
}
