# keyward policy: write access to vault:///dharmamind/production?kv=1&mount=secret (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# Vault grants per secret, not per field: this policy reaches every field of secret/dharmamind/production, not only the keys named.
# auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.

# The environment's one secret: read, then write a new version with every field (check-and-set).
path "secret/dharmamind/production" {
  capabilities = ["create", "read", "update"]
}
