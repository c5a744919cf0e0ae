"""Evaluates Midship switches with GrowthBook's own Python SDK.

Usage: growthbook_eval.py API_HOST CLIENT_KEY USERS_JSON
CLIENT_KEY is the workspace's SDK client key, WORKSPACE_ID.TAG. For each platform among the users,
fetches the features payload from API_HOST/api/features/WORKSPACE_ID-PLATFORM.TAG exactly as the
SDK does for any GrowthBook server (an app uses the client key of its platform), evaluates every
feature for every user of that platform and prints a JSON list of {feature key: value} objects, one
per user, leaving out null values as Midship does. As docs/switches.md says, the app adds the
secure attributes userIdSha256 and deviceIdSha256: SHA-256 of the workspace id followed by the id.
"""

import hashlib
import json
import sys
import urllib.request

from growthbook import GrowthBook


def main() -> None:
    api_host, client_key, users_path = sys.argv[1:4]
    workspace_id, tag = client_key.rsplit(".", 1)
    with open(users_path, encoding="utf-8") as users_file:
        users = json.load(users_file)
    features_by_platform = {}
    groups_by_platform = {}
    for platform in sorted({user["platform"] for user in users}):
        client_key_of_platform = f"{workspace_id}-{platform}.{tag}"
        loader = GrowthBook(api_host=api_host, client_key=client_key_of_platform, cache_ttl=0)
        loader.load_features()
        features_by_platform[platform] = loader.get_features()
        if not features_by_platform[platform]:
            raise SystemExit(f"the SDK loaded no features for {platform} from {api_host}")
        # The payload's saved groups (whitelists), given to each evaluating instance as an app's
        # SDK instance keeps them from its own load.
        with urllib.request.urlopen(f"{api_host}/api/features/{client_key_of_platform}") as response:
            groups_by_platform[platform] = json.load(response).get("savedGroups", {})
    results = []
    for attributes in users:
        attributes = dict(attributes)
        for plain, hashed in (("userId", "userIdSha256"), ("deviceId", "deviceIdSha256")):
            value = (workspace_id + attributes[plain]).encode()
            attributes[hashed] = hashlib.sha256(value).hexdigest()
        features = features_by_platform[attributes["platform"]]
        gb = GrowthBook(attributes=attributes, features=features, saved_groups=groups_by_platform[attributes["platform"]])
        values = {}
        for key in features:
            value = gb.get_feature_value(key, None)
            if value is not None:
                values[key] = value
        results.append(values)
        gb.destroy()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
