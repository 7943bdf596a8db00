# keyward policy: rotate access to gcpsm://projects/dharmamind-prod?names=exact (environment production)
# for keys DATABASE_URL, JWT_SECRET_KEY, and nothing more.
# Rotation writes with check-and-set: it claims the expected version with an etag-conditional UpdateSecret, so it needs secretmanager.secrets.update, which no narrow predefined role has; the first command creates the custom role keywardCheckAndSet (secretmanager.secrets.get, secretmanager.secrets.update, secretmanager.versions.get) once per project (it fails harmlessly if the role exists).
# Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.
# A secret is created on its first write, which needs secretmanager.secrets.create on the project (no narrow predefined role has it): create the secrets once with `gcloud secrets create NAME --replication-policy=automatic` instead.
# Rotation keeps the previous value as the previous version and its record in the KEY_ROTATION companion secret (e.g. jwt-secret-key-rotation).

gcloud iam roles create keywardCheckAndSet --project=dharmamind-prod \
  --title='keyward check-and-set' \
  --permissions=secretmanager.secrets.get,secretmanager.secrets.update,secretmanager.versions.get

gcloud secrets add-iam-policy-binding DATABASE_URL --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding DATABASE_URL --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionManager

gcloud secrets add-iam-policy-binding DATABASE_URL --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=projects/dharmamind-prod/roles/keywardCheckAndSet

gcloud secrets add-iam-policy-binding DATABASE_URL_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding DATABASE_URL_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionManager

gcloud secrets add-iam-policy-binding DATABASE_URL_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=projects/dharmamind-prod/roles/keywardCheckAndSet

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionManager

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=projects/dharmamind-prod/roles/keywardCheckAndSet

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretAccessor

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=roles/secretmanager.secretVersionManager

gcloud secrets add-iam-policy-binding JWT_SECRET_KEY_ROTATION --project=dharmamind-prod \
  --member=serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com \
  --role=projects/dharmamind-prod/roles/keywardCheckAndSet
