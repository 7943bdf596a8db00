# keyward policy: rotate access to gcpsm://projects/123456789 (environment production)
# for every key in the store, and nothing more.
# A gcpsm store is a whole project: give each environment its own project, or this grant reaches the others' secrets.
# roles/secretmanager.viewer lets keyward list the secrets (names and metadata, never values); listing cannot be narrowed by a condition.
# A secret is created on its first write, which needs secretmanager.secrets.create on the project (no narrow predefined role has it): create the secrets once with `gcloud secrets create NAME --replication-policy=automatic` instead.
# set --if-version also reads the latest version's metadata (secretmanager.versions.get, in roles/secretmanager.viewer on the secret).

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
  --role=roles/secretmanager.viewer
