#!/usr/bin/env bash
# The single-quoted --eval programs are JavaScript for mongosh: their ${...} are JS
# template literals, not shell expansions.
# shellcheck disable=SC2016
# Run by the Job provider-mongodb-init (init-job.yaml) with the mongo image's mongosh.
# Forms the replica set and creates the platform's application user; idempotent.
set -euo pipefail

: "${MONGODB_SET:?}" "${MONGODB_REPLICA_SET:?}" "${MONGODB_REPLICAS:?}"
: "${MONGODB_DATABASE_PREFIX:?}" "${PLATFORM_SERVICES:?}"
: "${ROOT_USERNAME:?}" "${ROOT_PASSWORD:?}" "${APP_USERNAME:?}" "${APP_PASSWORD:?}"

member0="${MONGODB_SET}-0.${MONGODB_SET}:27017"
hosts=""
for ((i = 0; i < MONGODB_REPLICAS; i++)); do
  hosts="${hosts:+${hosts},}${MONGODB_SET}-${i}.${MONGODB_SET}:27017"
done
export HOSTS="${hosts}"

auth=(--quiet --norc --username "${ROOT_USERNAME}" --password "${ROOT_PASSWORD}" --authenticationDatabase admin)
direct="mongodb://${member0}/admin?directConnection=true"
replset="mongodb://${hosts}/admin?replicaSet=${MONGODB_REPLICA_SET}"

# 1. Member 0 is up and its root user exists (the image's entrypoint creates it).
until mongosh "${direct}" "${auth[@]}" --eval 'db.adminCommand({ ping: 1 }).ok' >/dev/null 2>&1; do
  echo "waiting for ${member0}"
  sleep 5
done

# 2. rs.initiate unless the set exists. Member 0 gets the higher priority only so
#    that the first election is quick; any member may be primary afterwards.
mongosh "${direct}" "${auth[@]}" --eval '
  const name = process.env.MONGODB_REPLICA_SET;
  const hosts = process.env.HOSTS.split(",");
  try {
    rs.status();
    print(`replica set ${name} is already initiated`);
  } catch (e) {
    if (e.codeName !== "NotYetInitialized") throw e;
    rs.initiate({
      _id: name,
      members: hosts.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
    });
    print(`replica set ${name} initiated with ${hosts.length} member(s)`);
  }
'

# 3. A primary exists.
until mongosh "${replset}" "${auth[@]}" --eval 'if (!db.hello().isWritablePrimary) quit(1)' >/dev/null 2>&1; do
  echo "waiting for a primary of ${MONGODB_REPLICA_SET}"
  sleep 5
done

# 4. The application user: readWrite on each service's own database, nothing else.
mongosh "${replset}" "${auth[@]}" --eval '
  const env = process.env;
  const roles = env.PLATFORM_SERVICES.split(/\s+/).filter(Boolean)
    .map((service) => ({ role: "readWrite", db: env.MONGODB_DATABASE_PREFIX + service }));
  const admin = db.getSiblingDB("admin");
  if (admin.getUser(env.APP_USERNAME)) {
    admin.updateUser(env.APP_USERNAME, { pwd: env.APP_PASSWORD, roles });
    print(`user ${env.APP_USERNAME} updated: ${roles.map((r) => r.db).join(", ")}`);
  } else {
    admin.createUser({ user: env.APP_USERNAME, pwd: env.APP_PASSWORD, roles });
    print(`user ${env.APP_USERNAME} created: ${roles.map((r) => r.db).join(", ")}`);
  }
'
