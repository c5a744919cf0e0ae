"""Evaluates Midship switches with GrowthBook's own Python SDK.

Usage: growthbook_eval.py API_HOST WORKSPACE_ID USERS_JSON
For each platform among the users, fetches the features payload from
API_HOST/api/features/WORKSPACE_ID-PLATFORM exactly as the SDK does for any GrowthBook server (an
app uses the client key of its platform), evaluates every feature for every user of that platform
and prints a JSON list of {feature key: value} objects, one per user, leaving out null values as
Midship does.
"""

import json
import sys

from growthbook import GrowthBook


def main() -> None:
    api_host, workspace_id, users_path = sys.argv[1:4]
    with open(users_path, encoding="utf-8") as users_file:
        users = json.load(users_file)
    features_by_platform = {}
    for platform in sorted({user["platform"] for user in users}):
        loader = GrowthBook(api_host=api_host, client_key=f"{workspace_id}-{platform}", cache_ttl=0)
        loader.load_features()
        features_by_platform[platform] = loader.get_features()
        if not features_by_platform[platform]:
            raise SystemExit(f"the SDK loaded no features for {platform} from {api_host}")
    results = []
    for attributes in users:
        features = features_by_platform[attributes["platform"]]
        gb = GrowthBook(attributes=attributes, features=features)
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
