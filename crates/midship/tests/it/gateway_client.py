"""Calls Midship's gateway the way docs/protocol.md tells any client to, using only Python's
standard library, and prints the Result-Status of each scenario as JSON.

Usage: gateway_client.py SERVER APP_ID WORKSPACE_ID SECRET OPERATION_TYPE
"""

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def call(server, app_id, workspace_id, secret, operation_type, body, ts=None, nonce=None, drop=(), key=None):
    ts = str(int(time.time() * 1000)) if ts is None else ts
    nonce = uuid.uuid4().hex if nonce is None else nonce
    lines = ["POST", operation_type, app_id, workspace_id, ts, nonce, hashlib.sha256(body).hexdigest()]
    sign = hmac.new(key or secret, "\n".join(lines).encode(), hashlib.sha256).hexdigest()
    headers = {
        "Operation-Type": operation_type,
        "AppId": app_id,
        "WorkspaceId": workspace_id,
        "Ts": ts,
        "Nonce": nonce,
        "Sign": sign,
        "Sign-Type": "hmac-sha256",
        "Device-Id": "PYTHONCLIENT0001",
    }
    for name in drop:
        headers.pop(name)
    request = urllib.request.Request(server + "/mgw", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return int(response.headers["Result-Status"]), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.headers["Result-Status"]), ""


def main():
    server, app_id, workspace_id, secret, operation_type = sys.argv[1:6]
    secret = secret.encode()
    body = json.dumps({}).encode()
    args = (server, app_id, workspace_id, secret)
    results = {}
    results["signed"], results["signed_body"] = call(*args, operation_type, body)
    results["wrong_secret"], _ = call(*args, operation_type, body, key=b"not-the-secret")
    results["no_ts"], _ = call(*args, operation_type, body, drop=("Ts",))
    results["no_sign"], _ = call(*args, operation_type, body, drop=("Sign",))
    results["stale"], _ = call(*args, operation_type, body, ts=str(int(time.time() * 1000) - 10 * 60 * 1000))
    results["first_use"], _ = call(*args, operation_type, body, nonce="python-nonce")
    results["replayed"], _ = call(*args, operation_type, body, nonce="python-nonce")
    results["unknown_operation"], _ = call(*args, "com.demo.nothing", body)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
