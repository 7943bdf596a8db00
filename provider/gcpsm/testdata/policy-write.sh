# keyward policy: write access to gcpsm://dharmamind-prod (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.
# A secret is created on its first write, which needs secretmanager.secrets.create on the project (no narrow predefined role has it): create the secrets once with `gcloud secrets create NAME --replication-policy=automatic` instead.
# set --if-version is a check-and-set: it also needs the custom role keywardCheckAndSet (secretmanager.secrets.get, secretmanager.secrets.update, secretmanager.versions.get) on the secret, as rotate access grants; plain writes do not.

gcloud secrets add-iam-policy-binding database-url --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding database-url --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionAdder

gcloud secrets add-iam-policy-binding jwt-secret-key --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding jwt-secret-key --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionAdder
