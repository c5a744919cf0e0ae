"""A device and a backend written from docs/protocol.md and docs/sync.md alone, speaking to a real
`midship serve`: the backend sends through the admin API (urllib), the device connects to /ws with
the `websockets` package, first over midship.v1.json, then over midship.v1.protobuf with frames
from the .proto file compiled by grpc_tools' own protoc (and zstd from `zstandard`).

Usage: sync_client.py SERVER ADMIN_TOKEN APP_ID WORKSPACE_ID SECRET PROTO_DIR
Exits non-zero with the reason when anything differs from the documents; prints a JSON summary.
"""

import hashlib
import hmac
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import zstandard
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

SERVER, ADMIN_TOKEN, APP_ID, WORKSPACE_ID, SECRET, PROTO_DIR = sys.argv[1:7]
WS_URL = SERVER.replace("http://", "ws://") + "/ws"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


# --- the backend side: the admin API ---------------------------------------------------------------

def admin(method, path, body=None):
    request = urllib.request.Request(
        SERVER + "/api/v1/workspaces/" + WORKSPACE_ID + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": "Bearer " + ADMIN_TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def send(msg_id, to="alice", payload=None):
    body = {"biz_type": "CHAT-MSG", "link_token": to, "third_msg_id": msg_id,
            "payload": payload if payload is not None else json.dumps({"text": msg_id})}
    return admin("POST", "/sync/send", body)


# --- the device side ---------------------------------------------------------------------------------

def signature(method, operation_type, body=b""):
    ts, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex
    lines = [method, operation_type, APP_ID, WORKSPACE_ID, ts, nonce, hashlib.sha256(body).hexdigest()]
    sign = hmac.new(SECRET.encode(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()
    return ts, nonce, sign


def hello(device_id=None, positions=None, secret_ok=True):
    ts, nonce, sign = signature("CONNECT", "midship.connect")
    if not secret_ok:
        sign = "0" * 64
    frame = {"type": "hello", "app_id": APP_ID, "workspace_id": WORKSPACE_ID, "user_id": "alice",
             "platform": "android", "app_version": "3.2.0", "ts": ts, "nonce": nonce, "sign": sign,
             "sign_type": "hmac-sha256", "positions": positions or {}}
    if device_id:
        frame["device_id"] = device_id
    return frame


class JsonDevice:
    def __init__(self, frame):
        self.socket = connect(WS_URL, subprotocols=["midship.v1.json"], open_timeout=10)
        check(self.socket.subprotocol == "midship.v1.json", "the server picks midship.v1.json")
        self.send(frame)

    def send(self, frame):
        self.socket.send(json.dumps(frame))

    def receive(self):
        return json.loads(self.socket.recv(timeout=10))

    def receive_sync(self, count):
        frames = []
        while len(frames) < count:
            frame = self.receive()
            if frame["type"] == "sync":
                frames.append(frame)
        return frames

    def close_code(self):
        try:
            while True:
                self.socket.recv(timeout=10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""


def json_scenario(summary):
    for index in range(1, 6):
        sent = send("m-%d" % index)
        check(sent == {"result": "SUCCESS", "seq": index, "scheduled": False}, "send answers its sequence: %r" % sent)
    repeat = send("m-2")
    check(repeat["result"] == "DUPLICATED_BIZ_ID" and repeat["seq"] == 2, "a repeated thirdMsgId: %r" % repeat)
    summary["duplicate"] = repeat["result"]

    device = JsonDevice(hello())
    welcome = device.receive()
    check(welcome["type"] == "welcome" and welcome["device_id"], "a welcome with an issued device id: %r" % welcome)
    device_id = welcome["device_id"]
    frames = device.receive_sync(5)
    check([frame["seq"] for frame in frames] == [1, 2, 3, 4, 5], "the backlog in order")
    check(json.loads(frames[0]["payload"]) == {"text": "m-1"} and frames[0]["msg_id"] == "m-1", "payload and id")
    check(all(frame["persistent"] for frame in frames), "persistent")
    device.send({"type": "ack", "biz_type": "CHAT-MSG", "seq": 3})

    # A message while connected arrives at once; an RPC over the connection answers like /mgw.
    send("m-6")
    check(device.receive_sync(1)[0]["seq"] == 6, "live message")
    body = b"{}"
    ts, nonce, sign = signature("POST", "midship.sync.token", body)
    device.send({"type": "rpc", "id": 41, "body": body.decode(),
                 "headers": {"operation-type": "midship.sync.token", "Ts": ts, "Nonce": nonce, "Sign": sign}})
    device.send({"type": "rpc", "id": 42, "body": "{}", "headers": {"Operation-Type": "com.nowhere"}})
    device.send({"type": "ping", "id": 9})
    answers = {}
    while len(answers) < 3:
        frame = device.receive()
        key = frame.get("id") if frame["type"] == "rpc_result" else "pong"
        answers[key] = frame
    check(answers[41]["result_status"] == 1000, "signed RPC over the connection: %r" % answers[41])
    token = json.loads(answers[41]["body"])["token"]
    check(answers[42]["result_status"] == 3000, "unknown operation type: %r" % answers[42])
    check(answers["pong"]["id"] == 9, "pong echoes the id")
    device.socket.close()

    # Reconnect without positions: exactly the unacknowledged rest, in order.
    again = JsonDevice(hello(device_id=device_id))
    check(again.receive()["device_id"] == device_id, "the same device")
    rest = again.receive_sync(3)
    check([frame["seq"] for frame in rest] == [4, 5, 6], "only the unacknowledged rest: %r" % rest)
    again.send({"type": "ack", "biz_type": "CHAT-MSG", "seq": 6})
    again.send({"type": "ping", "id": 1})
    check(again.receive()["type"] == "pong", "acks then ping")
    again.socket.close()

    # The device's own connection token opens a connection without the secret.
    with_token = JsonDevice({"type": "hello", "app_id": APP_ID, "workspace_id": WORKSPACE_ID,
                             "device_id": device_id, "token": token})
    check(with_token.receive()["user_id"] == "alice", "the token carries the user")
    with_token.send({"type": "ping"})
    check(with_token.receive()["type"] == "pong", "nothing left to deliver after the ack")
    with_token.socket.close()
    status = admin("GET", "/sync/status?biz_type=CHAT-MSG&link_token=alice&device_id=" + device_id)
    check(status["acked_seq"] == 6 and status["last_seq"] == 6, "the server kept the ack: %r" % status)

    # Bad input closes with the documented codes.
    forged = JsonDevice(hello(secret_ok=False))
    code, reason = forged.close_code()
    check(code == 4001 and reason.startswith("7002"), "a forged hello: %r %r" % (code, reason))
    garbage = JsonDevice(hello(device_id=device_id))
    garbage.receive()
    garbage.socket.send("{not json")
    check(garbage.close_code()[0] == 4000, "a malformed frame")
    summary["json"] = {"device_id": device_id, "backlog": [f["seq"] for f in frames], "rest": [f["seq"] for f in rest]}
    return device_id


def compile_proto():
    out = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_DIR, "--python_out=" + out,
                    "midship/v1/connection.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("midship.v1.connection_pb2")


def protobuf_scenario(summary):
    pb = compile_proto()
    big = "x" * 4000
    check(send("big-1", to="bob", payload=big)["seq"] == 1, "a large message for bob")

    def encode(frame, compress=False):
        data = frame.SerializeToString()
        return (b"\x01" + zstandard.ZstdCompressor().compress(data)) if compress else b"\x00" + data

    def decode(message):
        check(isinstance(message, bytes), "binary frames on the protobuf subprotocol")
        flag, rest = message[0], message[1:]
        if flag == 1:
            rest = zstandard.ZstdDecompressor().decompress(rest, max_output_size=1 << 22)
        frame = pb.ServerFrame()
        frame.ParseFromString(rest)
        return frame, flag

    socket = connect(WS_URL, subprotocols=["midship.v1.protobuf"], open_timeout=10)
    check(socket.subprotocol == "midship.v1.protobuf", "the server picks midship.v1.protobuf")
    ts, nonce, sign = signature("CONNECT", "midship.connect")
    client = pb.ClientFrame()
    client.hello.app_id, client.hello.workspace_id, client.hello.user_id = APP_ID, WORKSPACE_ID, "bob"
    client.hello.device_id, client.hello.ts, client.hello.nonce, client.hello.sign = "PROTOBUFDEVICE01", ts, nonce, sign
    socket.send(encode(client, compress=True))
    welcome, _ = decode(socket.recv(timeout=10))
    check(welcome.WhichOneof("frame") == "welcome" and welcome.welcome.device_id == "PROTOBUFDEVICE01", "welcome")
    data, flag = decode(socket.recv(timeout=10))
    check(data.WhichOneof("frame") == "sync" and data.sync.seq == 1 and data.sync.payload == big, "the message")
    check(flag == 1, "a large frame comes zstd-compressed")
    ack = pb.ClientFrame()
    ack.ack.biz_type, ack.ack.seq = "CHAT-MSG", 1
    socket.send(encode(ack))
    ping = pb.ClientFrame()
    ping.ping.id = 5
    socket.send(encode(ping))
    pong, flag = decode(socket.recv(timeout=10))
    check(pong.WhichOneof("frame") == "pong" and pong.pong.id == 5 and flag == 0, "small frames are plain")
    socket.send("text on the protobuf subprotocol")
    try:
        while True:
            socket.recv(timeout=10)
    except ConnectionClosed as closed:
        check(closed.rcvd is not None and closed.rcvd.code == 4000, "text on protobuf closes 4000")
    status = admin("GET", "/sync/status?biz_type=CHAT-MSG&link_token=bob&device_id=PROTOBUFDEVICE01")
    check(status["acked_seq"] == 1, "the protobuf ack was kept: %r" % status)
    summary["protobuf"] = {"compressed_bytes": len(data.SerializeToString())}


def main():
    admin("POST", "/sync/configs", {"biz_type": "CHAT-MSG"})
    summary = {}
    json_scenario(summary)
    protobuf_scenario(summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
