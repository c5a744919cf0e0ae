"""The Python binding of the device SDK (UniFFI, from crates/midship-mobile) against a real
`midship serve`, driven step by step by crates/midship/tests/it/mobile_bindings.rs.

Usage: device_test.py BINDINGS_DIR PHASE SETTINGS_JSON
  PHASE first: register, pull config, call an RPC, install an H5 package, upload analytics,
               then print the device id and handle the sync messages and the push the driver
               sends (announced by a line on stdin), reporting the push opened.
  PHASE again: a new client object on the same state: only the message sent since is handed over.
  PHASE bad:   bad input becomes error values, never a crash.
Prints one JSON line per step; exits non-zero with the reason on any difference.
"""

import asyncio
import json
import os
import socket
import sys
import threading
import time

BINDINGS_DIR, PHASE, SETTINGS_JSON = sys.argv[1:4]
sys.path.insert(0, BINDINGS_DIR)
import midship_mobile as sdk  # noqa: E402

SETTINGS = json.loads(SETTINGS_JSON)


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


def say(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


class Recorder(sdk.SyncHandler):
    """Appends each handled message to a file, so handing-over counts survive the process."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def on_message(self, message):
        with self.lock, open(self.path, "a") as file:
            file.write(json.dumps({"msg_id": message.msg_id, "seq": message.seq, "payload": message.payload}) + "\n")

    def handled(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as file:
            return [json.loads(line)["msg_id"] for line in file if line.strip()]


class Notifications(sdk.PushHandler):
    def __init__(self):
        self.received = []

    def on_notification(self, notice):
        self.received.append(notice)


def settings(**overrides):
    values = dict(SETTINGS)
    values.update(overrides)
    return sdk.MidshipSettings(**values)


def wait_for(what, condition, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    sys.exit("FAILED: timed out waiting for " + what)


async def first():
    recorder = Recorder(os.path.join(SETTINGS["state_dir"], "handled.jsonl"))
    notifications = Notifications()
    midship = sdk.Midship(settings(), None)
    midship.sync().register("CHAT-MSG", recorder)
    midship.push().set_handler(notifications)
    await midship.start()
    device_id = midship.device_id()
    check(device_id is not None, "start registers the device")

    check(midship.config().get_bool("wallet.nfc", False) is True, "alice gets the targeted value")
    check(midship.config().get_number("wallet.limit", 0.0) == 500.0, "the default of a number switch")
    say("config", version=midship.config().version())

    answer = await midship.rpc().call("midship.time", "{}")
    check(abs(json.loads(answer.body)["now_ms"] - time.time() * 1000) < 60_000, "midship.time answers the clock")
    say("rpc", trace_id=answer.trace_id)

    offers = await midship.delivery().check()
    h5 = [offer for offer in offers if offer.kind == "h5"]
    check(len(h5) == 1 and h5[0].app_id == "30000001", "the H5 release is offered: %r" % offers)
    installed = await midship.delivery().install_h5(h5[0].release_id)
    check("index.html" in installed.files, "the package's files are installed: %r" % installed.files)
    check(os.path.exists(os.path.join(installed.directory, "index.html")), "written to its directory")
    say("delivery", version=installed.version, files=len(installed.files))

    check(midship.analytics().event("purchase", json.dumps({"amount": "12.50"})), "the policy keeps events")
    check(midship.analytics().page("home", 1200), "the policy keeps pages")
    report = await midship.analytics().upload(True)
    check(report.events >= 2 and report.batches >= 1, "the events are uploaded: %r" % report)
    say("analytics", events=report.events, batches=report.batches)

    say("ready", device_id=device_id)
    check(sys.stdin.readline().strip() == "sent", "the driver announces its sends")
    wait_for("two sync messages", lambda: len(recorder.handled()) >= 2)
    wait_for("the push", lambda: notifications.received)
    notice = notifications.received[0]
    await midship.push().report_opened(notice.task_id)
    say("received", handled=recorder.handled(), push_title=notice.title, task_id=notice.task_id)
    check(sys.stdin.readline().strip() == "published", "the driver announces a new configuration")
    wait_for("the announced value, without a pull", lambda: midship.config().get_number("wallet.limit", 0.0) == 900.0)
    say("announced", version=midship.config().version())
    midship.shutdown()


async def again():
    recorder = Recorder(os.path.join(SETTINGS["state_dir"], "handled.jsonl"))
    midship = sdk.Midship(settings(), None)
    midship.sync().register("CHAT-MSG", recorder)
    await midship.start()
    wait_for("the third message", lambda: len(recorder.handled()) >= 3)
    time.sleep(1.0)  # anything handed over twice would arrive now
    say("again", handled=recorder.handled(), position=midship.sync().position("CHAT-MSG"))
    midship.shutdown()


async def bad():
    errors = {}
    midship = sdk.Midship(settings(), None)
    try:
        await midship.rpc().call("midship.time", "not json")
    except sdk.MidshipError.InvalidArgument as error:
        errors["not_json"] = str(error)
    try:
        sdk.Midship(settings(config_defaults_json="[1, 2]"), None)
    except sdk.MidshipError.InvalidArgument as error:
        errors["defaults"] = str(error)

    wrong = sdk.Midship(settings(state_dir=SETTINGS["state_dir"] + "-wrong", app_secret="0" * 64), None)
    try:
        await wrong.start()
    except sdk.MidshipError.Refused as error:
        errors["wrong_secret"] = error.result_code

    corrupt_dir = SETTINGS["state_dir"] + "-corrupt"
    os.makedirs(os.path.join(corrupt_dir, "sync"), exist_ok=True)
    with open(os.path.join(corrupt_dir, "sync", "sync-positions.json"), "w") as file:
        file.write("{not json")
    corrupt = sdk.Midship(settings(state_dir=corrupt_dir), None)
    try:
        await corrupt.start()
    except sdk.MidshipError.LocalState as error:
        errors["corrupt_positions"] = str(error)

    unreachable = sdk.Midship(settings(state_dir=SETTINGS["state_dir"] + "-down", server_url="http://127.0.0.1:9"), None)
    try:
        await unreachable.start()
    except sdk.MidshipError.Unreachable as error:
        errors["unreachable"] = str(error)
    # A server that is not Midship, and one that drops the connection in the middle of an answer.
    garbage = fake_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n<p>hi</p>")
    dropping = fake_server(b"HTTP/1.1 200 OK\r\nResult-Status: 1000\r\nContent-Length: 500\r\n\r\n{\"device_id\": \"x")
    not_midship = sdk.Midship(settings(state_dir=SETTINGS["state_dir"] + "-garbage", server_url=garbage), None)
    try:
        await not_midship.start()
    except sdk.MidshipError.BadAnswer as error:
        errors["garbage"] = str(error)
    dropped = sdk.Midship(settings(state_dir=SETTINGS["state_dir"] + "-dropped", server_url=dropping), None)
    try:
        await dropped.start()
    except sdk.MidshipError.Unreachable as error:
        errors["dropped"] = str(error)

    # A package signed by a key the app does not trust is refused before anything is written.
    untrusting = sdk.Midship(settings(state_dir=SETTINGS["state_dir"] + "-untrusting",
                                      package_public_keys=[OTHER_PACKAGE_KEY]), None)
    await untrusting.start()
    offer = [offer for offer in await untrusting.delivery().check() if offer.kind == "h5"][0]
    try:
        await untrusting.delivery().install_h5(offer.release_id)
    except sdk.MidshipError.Package as error:
        errors["untrusted_package"] = str(error)
    check(not os.path.exists(os.path.join(SETTINGS["state_dir"] + "-untrusting", "h5", "30000001")), "nothing written")

    for client in (midship, wrong, corrupt, unreachable, not_midship, dropped, untrusting):
        client.shutdown()
    say("bad", **errors)


# RFC 8032's first Ed25519 test key: valid, but not the workspace's.
OTHER_PACKAGE_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def fake_server(answer):
    """Answers every connection with `answer` and closes it; returns its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.sendall(answer)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return "http://127.0.0.1:%d" % listener.getsockname()[1]


async def vectors():
    """Every request signature of conformance/signing-vectors.json, byte for byte."""
    with open(SETTINGS["vectors"]) as file:
        cases = json.load(file)["request_signatures"]
    for case in cases:
        signed = sdk.sign_call(sdk.CallToSign(
            method=case["method"], operation_type=case["operation_type"], app_id=case["app_id"],
            workspace_id=case["workspace_id"], device_id=case.get("device_id", ""), user_id=case.get("user_id", ""),
            ts=case["ts"], nonce=case["nonce"], body=case["body"].encode(), sign_type=case["sign_type"], key=case["key"]))
        check(signed.signing_string == case["signing_string"], "signing string of " + case["name"])
        check(signed.sign == case["sign"], "signature of " + case["name"])
    say("vectors", cases=len(cases))


asyncio.run({"first": first, "again": again, "bad": bad, "vectors": vectors}[PHASE]())
