# keyward policy: write access to azurekv://dharmamind-vault.vault.azure.net?names=exact (environment production)
# for every key in the store, and nothing more.
# The vault must use the Azure RBAC permission model (enableRbacAuthorization), not access policies.
# Give each environment its own vault: a vault-scoped role reaches every secret in it.
# Pass --principal OBJECT_ID (the managed identity or service principal) to name the assignee.
# Secrets Officer also allows delete (soft delete; never purge): Azure has no built-in role that sets without deleting.

VAULT_ID=$(az keyvault show --name dharmamind-vault --query id --output tsv)
az role assignment create --role "Key Vault Secrets Officer" \
  --assignee "PRINCIPAL_OBJECT_ID" \
  --scope "$VAULT_ID"
