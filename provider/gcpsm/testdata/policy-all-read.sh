# keyward policy: read access to gcpsm://projects/dharmamind-prod (environment production)
# for every key in the store, and nothing more.
# IAM conditions see resource.name with the project number, not its id: the commands look it up.
# A gcpsm store is a whole project: give each environment its own project, or this grant reaches the others' secrets.
# roles/secretmanager.viewer lets keyward list the secrets (names and metadata, never values); listing cannot be narrowed by a condition.

PROJECT_NUMBER=$(gcloud projects describe dharmamind-prod --format='value(projectNumber)')

gcloud projects add-iam-policy-binding dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor \
  --condition="expression=resource.type == \"secretmanager.googleapis.com/Secret\" && resource.name.startsWith(\"projects/${PROJECT_NUMBER}/secrets/\"),title=keyward-production-read"

gcloud projects add-iam-policy-binding dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.viewer
