# keyward policy: rotate access to gcpsm://projects/123456789 (environment production)
# for every key in the store, and nothing more.
# Custom roles are named by project id: if 123456789 is the project number, put the project's id in the role's name (projects/ID/roles/keywardCheckAndSet) and in the create command.
# Rotation writes with check-and-set: it claims the expected version with an etag-conditional UpdateSecret, so it needs secretmanager.secrets.update, which no narrow predefined role has; the first command creates the custom role keywardCheckAndSet (secretmanager.secrets.get, secretmanager.secrets.update, secretmanager.versions.get) once per project (it fails harmlessly if the role exists).
# A gcpsm store is a whole project: give each environment its own project, or this grant reaches the others' secrets.
# roles/secretmanager.viewer lets keyward list the secrets (names and metadata, never values); listing cannot be narrowed by a condition.
# A secret is created on its first write, which needs secretmanager.secrets.create on the project (no narrow predefined role has it): create the secrets once with `gcloud secrets create NAME --replication-policy=automatic` instead.

gcloud iam roles create keywardCheckAndSet --project=123456789 \
  --title='keyward check-and-set' \
  --permissions=secretmanager.secrets.get,secretmanager.secrets.update,secretmanager.versions.get

gcloud projects add-iam-policy-binding 123456789 \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor \
  --condition="expression=resource.type == \"secretmanager.googleapis.com/Secret\" && resource.name.startsWith(\"projects/123456789/secrets/\"),title=keyward-production-rotate"

gcloud projects add-iam-policy-binding 123456789 \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionManager \
  --condition="expression=resource.type == \"secretmanager.googleapis.com/Secret\" && resource.name.startsWith(\"projects/123456789/secrets/\"),title=keyward-production-rotate-write"

gcloud projects add-iam-policy-binding 123456789 \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=projects/123456789/roles/keywardCheckAndSet \
  --condition="expression=resource.type == \"secretmanager.googleapis.com/Secret\" && resource.name.startsWith(\"projects/123456789/secrets/\"),title=keyward-production-rotate-cas"

gcloud projects add-iam-policy-binding 123456789 \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.viewer
