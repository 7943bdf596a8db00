# keyward policy: read access to gcpsm://projects/dharmamind-prod (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.

gcloud secrets add-iam-policy-binding database-url --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding jwt-secret-key --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor
