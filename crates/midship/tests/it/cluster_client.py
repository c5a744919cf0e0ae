"""A device written from docs/protocol.md and docs/protocol-signing.md alone, for the cluster test:

  cluster_client.py listen NODE APP_ID WORKSPACE_ID SECRET USER COUNT
      connects to NODE's /ws over midship.v1.json as USER, prints "ready", then one JSON line per
      CHAT-MSG message ({"msg_id", "seq", "at"}), acknowledging each, until COUNT arrived.
  cluster_client.py replay NODE_A NODE_B APP_ID WORKSPACE_ID SECRET
      signs one `midship.time` call, sends it to NODE_A, then the very same request to NODE_B, and
      prints both Result-Status headers as JSON.
"""

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

from websockets.sync.client import connect


def sign(secret, method, operation_type, app_id, workspace_id, body=b""):
    ts, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex
    lines = [method, operation_type, app_id, workspace_id, ts, nonce, hashlib.sha256(body).hexdigest()]
    return ts, nonce, hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def listen(node, app_id, workspace_id, secret, user, count):
    ts, nonce, signature = sign(secret, "CONNECT", "midship.connect", app_id, workspace_id)
    hello = {"type": "hello", "app_id": app_id, "workspace_id": workspace_id, "user_id": user,
             "platform": "android", "app_version": "1.0.0",
             "ts": ts, "nonce": nonce, "sign": signature, "sign_type": "hmac-sha256", "positions": {}}
    socket = connect(node.replace("http://", "ws://") + "/ws", subprotocols=["midship.v1.json"], open_timeout=10)
    socket.send(json.dumps(hello))
    welcome = json.loads(socket.recv(timeout=10))
    if welcome["type"] != "welcome":
        sys.exit("FAILED: no welcome: " + json.dumps(welcome))
    print("ready", flush=True)
    received = 0
    while received < count:
        frame = json.loads(socket.recv(timeout=60))
        if frame["type"] != "sync" or frame["biz_type"] != "CHAT-MSG":
            continue
        print(json.dumps({"msg_id": frame["msg_id"], "seq": frame["seq"], "at": time.time()}), flush=True)
        socket.send(json.dumps({"type": "ack", "biz_type": frame["biz_type"], "seq": frame["seq"]}))
        received += 1
    socket.close()


def replay(node_a, node_b, app_id, workspace_id, secret):
    body = b"{}"
    ts, nonce, signature = sign(secret, "POST", "midship.time", app_id, workspace_id, body)
    headers = {"Operation-Type": "midship.time", "AppId": app_id, "WorkspaceId": workspace_id, "Ts": ts,
               "Nonce": nonce, "Sign": signature, "Sign-Type": "hmac-sha256", "Device-Id": "DOCREPLAYDEVICE1"}
    statuses = []
    for node in (node_a, node_b):
        request = urllib.request.Request(node + "/mgw", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                statuses.append(int(response.headers["Result-Status"]))
        except urllib.error.HTTPError as error:
            statuses.append(int(error.headers["Result-Status"]))
    print(json.dumps({"first": statuses[0], "replayed": statuses[1]}))


if __name__ == "__main__":
    if sys.argv[1] == "listen":
        node, app_id, workspace_id, secret, user, count = sys.argv[2:8]
        listen(node, app_id, workspace_id, secret, user, int(count))
    else:
        replay(*sys.argv[2:7])
