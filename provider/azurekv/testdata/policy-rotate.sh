# keyward policy: rotate access to azurekv://dharmamind-vault (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# The vault must use the Azure RBAC permission model (enableRbacAuthorization), not access policies.
# Give each environment its own vault: a vault-scoped role reaches every secret in it.
# Pass --principal OBJECT_ID (the managed identity or service principal) to name the assignee.
# Per-secret scope is possible (the commented commands below) when the secrets exist; Azure advises a vault per environment instead, and listing needs the vault scope.
# Secrets Officer also allows delete (soft delete; never purge): Azure has no built-in role that sets without deleting.

VAULT_ID=$(az keyvault show --name dharmamind-vault --query id --output tsv)
az role assignment create --role "Key Vault Secrets Officer" \
  --assignee "PRINCIPAL_OBJECT_ID" \
  --scope "$VAULT_ID"

# Narrower, one assignment per secret:
# az role assignment create --role "Key Vault Secrets Officer" --assignee "PRINCIPAL_OBJECT_ID" --scope "$VAULT_ID/secrets/database-url"
# az role assignment create --role "Key Vault Secrets Officer" --assignee "PRINCIPAL_OBJECT_ID" --scope "$VAULT_ID/secrets/database-url-rotation"
# az role assignment create --role "Key Vault Secrets Officer" --assignee "PRINCIPAL_OBJECT_ID" --scope "$VAULT_ID/secrets/jwt-secret-key"
# az role assignment create --role "Key Vault Secrets Officer" --assignee "PRINCIPAL_OBJECT_ID" --scope "$VAULT_ID/secrets/jwt-secret-key-rotation"
