"""Calls Midship's gateway the way docs/protocol.md tells any client to, using only Python's
standard library, and prints the Result-Status of each scenario as JSON.

Usage: gateway_client.py SERVER APP_ID WORKSPACE_ID SECRET
The workspace has the APIs the Rust test registers (com.demo.*).
"""

import hashlib
import hmac
import http.client
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


class Client:
    def __init__(self, server, app_id, workspace_id, secret):
        self.server, self.app_id, self.workspace_id, self.secret = server, app_id, workspace_id, secret.encode()

    def call(self, operation_type, body=b"{}", ts=None, nonce=None, drop=(), key=None, extra=None, app_id=None,
             device_id="PYTHONCLIENT0001", device_secret=None, user_id=""):
        """Signs with the app's secret, or with a registered device's secret over the nine-line
        device signing string (docs/protocol-signing.md)."""
        app_id = app_id or self.app_id
        ts = str(int(time.time() * 1000)) if ts is None else ts
        nonce = uuid.uuid4().hex if nonce is None else nonce
        digest = hashlib.sha256(body).hexdigest()
        if device_secret is None:
            lines = ["POST", operation_type, app_id, self.workspace_id, ts, nonce, digest]
            key, sign_type = key or self.secret, "hmac-sha256"
        else:
            lines = ["POST", operation_type, app_id, self.workspace_id, device_id, user_id, ts, nonce, digest]
            key, sign_type = device_secret, "device-hmac-sha256"
        sign = hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).hexdigest()
        headers = {
            "Operation-Type": operation_type,
            "AppId": app_id,
            "WorkspaceId": self.workspace_id,
            "Ts": ts,
            "Nonce": nonce,
            "Sign": sign,
            "Sign-Type": sign_type,
            "Device-Id": device_id,
        }
        if user_id:
            headers["User-Id"] = user_id
        headers.update(extra or {})
        for name in drop:
            headers.pop(name)
        request = urllib.request.Request(self.server + "/mgw", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                return int(response.headers["Result-Status"]), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.headers["Result-Status"]), ""


def oversized(server, declared_length):
    """Sends only the headers of a request whose declared body is too large: the gateway answers
    before reading any of the body, so a client need not upload it to learn the refusal."""
    host = server.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.putrequest("POST", "/mgw")
    connection.putheader("Operation-Type", "com.demo.ok")
    connection.putheader("Content-Length", str(declared_length))
    connection.endheaders()
    response = connection.getresponse()
    status = int(response.headers["Result-Status"])
    connection.close()
    return status, ""


def main():
    client = Client(*sys.argv[1:5])
    results = {}

    def record(name, outcome):
        results[name] = outcome[0]
        return outcome

    _, body = record("1000", client.call("com.demo.ok"))
    results["1000_body"] = body
    record("7002", client.call("com.demo.ok", key=b"not-the-secret"))
    record("7007", client.call("com.demo.ok", drop=("Ts",)))
    record("7014", client.call("com.demo.ok", drop=("Sign",)))
    record("7001", client.call("com.demo.ok", drop=("AppId",)))
    record("7000", client.call("com.demo.ok", app_id="0000000000000000"))
    record("7003", client.call("com.demo.ok", ts=str(int(time.time() * 1000) - 10 * 60 * 1000)))
    client.call("com.demo.ok", nonce="python-nonce")
    record("7015", client.call("com.demo.ok", nonce="python-nonce"))
    record("3000", client.call("com.demo.nothing"))
    record("3001", client.call("com.demo.ok", body=b""))
    record("3002", client.call("com.demo.ok", body=b"{not json"))
    record("3003", client.call("com.demo.sealed"))
    record("3004", oversized(client.server, 2 * 1024 * 1024))
    record("4001", client.call("com.demo.slow"))
    record("4002", client.call("com.demo.broken"))
    record("4003", client.call("com.demo.gone"))
    record("1002_first", client.call("com.demo.limited"))
    record("1002", client.call("com.demo.limited"))
    record("2000", client.call("com.demo.guarded", extra={"Authorization": "Bearer login"}))
    record("1005", client.call("com.demo.guarded", extra={"Authorization": "Bearer stolen"}))
    record("1000_authorized", client.call("com.demo.guarded", extra={"Authorization": "Bearer good"}))
    record("7001_no_nonce", client.call("com.demo.ok", drop=("Nonce",)))

    # A device of its own: registered with the app's secret, then signing with its credential.
    status, answer = client.call("midship.device.register", device_id="PYTHONDEVICE0002")
    results["1000_register"] = status
    registration = json.loads(answer)
    device_id, device_secret = registration["device_id"], registration["device_secret"].encode()
    results["register_device_id"] = device_id
    mine = {"device_id": device_id, "device_secret": device_secret, "user_id": "py-user"}
    record("1000_device", client.call("com.demo.ok", **mine))
    record("7002_retargeted", client.call("com.demo.ok", extra={"User-Id": "someone-else"}, **mine))
    record("7017", client.call("com.demo.ok", device_id=device_id))
    record("3005", client.call("midship.device.register", device_id=device_id))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
