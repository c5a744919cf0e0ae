// The Kotlin binding of the device SDK (UniFFI, from crates/midship-mobile) on the JVM against a
// real `midship serve`, driven step by step by crates/midship/tests/it/mobile_bindings.rs, like
// clients/python/device_test.py.
//
// Usage: DeviceTest PHASE SERVER_URL APP_ID WORKSPACE_ID APP_SECRET STATE_DIR PACKAGE_KEY
// Prints one JSON line per step; exits non-zero with the reason on any difference.

import java.io.File
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import uniffi.midship_mobile.CallToSign
import uniffi.midship_mobile.Midship
import uniffi.midship_mobile.MidshipException
import uniffi.midship_mobile.MidshipSettings
import uniffi.midship_mobile.PushHandler
import uniffi.midship_mobile.PushNotice
import uniffi.midship_mobile.SyncHandler
import uniffi.midship_mobile.SyncMessage
import uniffi.midship_mobile.signCall

fun check(condition: Boolean, message: String) {
    if (!condition) {
        System.err.println("FAILED: $message")
        exitProcess(1)
    }
}

fun quote(text: String): String =
    "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\""

fun say(step: String, vararg fields: Pair<String, Any?>) {
    val parts = listOf("\"step\":" + quote(step)) + fields.map { (name, value) ->
        val json = when (value) {
            null -> "null"
            is String -> quote(value)
            is List<*> -> value.joinToString(",", "[", "]") { quote(it.toString()) }
            else -> value.toString()
        }
        quote(name) + ":" + json
    }
    println(parts.joinToString(",", "{", "}"))
    System.out.flush()
}

/** Appends each handled message id to a file, so counts survive the process. */
class Recorder(private val file: File) : SyncHandler {
    @Synchronized
    override fun onMessage(message: SyncMessage) {
        file.appendText(message.msgId + "\n")
    }

    fun handled(): List<String> = if (file.exists()) file.readLines().filter { it.isNotBlank() } else emptyList()
}

class Notifications : PushHandler {
    val received = java.util.concurrent.CopyOnWriteArrayList<PushNotice>()

    override fun onNotification(notice: PushNotice) {
        received.add(notice)
    }
}

fun waitFor(what: String, seconds: Int = 20, condition: () -> Boolean) {
    val deadline = System.currentTimeMillis() + seconds * 1000L
    while (System.currentTimeMillis() < deadline) {
        if (condition()) return
        Thread.sleep(50)
    }
    check(false, "timed out waiting for $what")
}

/** RFC 8032's first Ed25519 test key: valid, but not the workspace's. */
const val OTHER_PACKAGE_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

/** Answers every connection with `answer` and closes it; returns its base URL. */
fun fakeServer(answer: String): String {
    val listener = java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))
    val thread = Thread {
        while (true) {
            listener.accept().use { connection ->
                connection.getInputStream().read(ByteArray(65536))
                connection.getOutputStream().write(answer.toByteArray())
            }
        }
    }
    thread.isDaemon = true
    thread.start()
    return "http://127.0.0.1:${listener.localPort}"
}

lateinit var base: MidshipSettings

fun settings(stateDir: String = base.stateDir, appSecret: String = base.appSecret, defaults: String = "{}") =
    base.copy(stateDir = stateDir, appSecret = appSecret, configDefaultsJson = defaults)

suspend fun first() {
    val recorder = Recorder(File(base.stateDir, "handled.txt"))
    val notifications = Notifications()
    val midship = Midship(settings(), null)
    midship.sync().register("CHAT-MSG", recorder)
    midship.push().setHandler(notifications)
    midship.start()
    val deviceId = midship.deviceId()
    check(deviceId != null, "start registers the device")

    check(midship.config().getBool("wallet.nfc", false), "alice gets the targeted value")
    check(midship.config().getNumber("wallet.limit", 0.0) == 500.0, "the default of a number switch")
    say("config", "version" to midship.config().version())

    val answer = midship.rpc().call("midship.time", "{}")
    check(answer.body.contains("now_ms"), "midship.time answers the clock: ${answer.body}")
    say("rpc", "trace_id" to answer.traceId)

    val h5 = midship.delivery().check().filter { it.kind == "h5" }
    check(h5.size == 1 && h5[0].appId == "30000001", "the H5 release is offered: $h5")
    val installed = midship.delivery().installH5(h5[0].releaseId)
    check("index.html" in installed.files, "the package's files are installed: ${installed.files}")
    check(File(installed.directory, "index.html").exists(), "written to its directory")
    say("delivery", "version" to installed.version, "files" to installed.files.size)

    check(midship.analytics().event("purchase", "{\"amount\":\"12.50\"}"), "the policy keeps events")
    check(midship.analytics().page("home", 1200uL), "the policy keeps pages")
    val report = midship.analytics().upload(true)
    check(report.events >= 2uL && report.batches >= 1uL, "the events are uploaded: $report")
    say("analytics", "events" to report.events, "batches" to report.batches)

    say("ready", "device_id" to deviceId)
    check(readLine()?.trim() == "sent", "the driver announces its sends")
    waitFor("two sync messages") { recorder.handled().size >= 2 }
    waitFor("the push") { notifications.received.isNotEmpty() }
    val notice = notifications.received[0]
    midship.push().reportOpened(notice.taskId)
    say("received", "handled" to recorder.handled(), "push_title" to notice.title, "task_id" to notice.taskId)
    check(readLine()?.trim() == "published", "the driver announces a new configuration")
    waitFor("the announced value, without a pull") { midship.config().getNumber("wallet.limit", 0.0) == 900.0 }
    say("announced", "version" to midship.config().version())
    midship.shutdown()
}

suspend fun again() {
    val recorder = Recorder(File(base.stateDir, "handled.txt"))
    val midship = Midship(settings(), null)
    midship.sync().register("CHAT-MSG", recorder)
    midship.start()
    waitFor("the third message") { recorder.handled().size >= 3 }
    Thread.sleep(1000) // anything handed over twice would arrive now
    say("again", "handled" to recorder.handled(), "position" to midship.sync().position("CHAT-MSG"))
    midship.shutdown()
}

suspend fun bad() {
    val errors = mutableListOf<Pair<String, Any?>>()
    val midship = Midship(settings(), null)
    try {
        midship.rpc().call("midship.time", "not json")
    } catch (error: MidshipException.InvalidArgument) {
        errors.add("not_json" to error.detail)
    }
    try {
        Midship(settings(defaults = "[1, 2]"), null)
    } catch (error: MidshipException.InvalidArgument) {
        errors.add("defaults" to error.detail)
    }
    try {
        Midship(settings(stateDir = base.stateDir + "-wrong", appSecret = "0".repeat(64)), null).start()
    } catch (error: MidshipException.Refused) {
        errors.add("wrong_secret" to error.resultCode.toInt())
    }
    val corrupt = File(base.stateDir + "-corrupt", "sync")
    corrupt.mkdirs()
    File(corrupt, "sync-positions.json").writeText("{not json")
    try {
        Midship(settings(stateDir = base.stateDir + "-corrupt"), null).start()
    } catch (error: MidshipException.LocalState) {
        errors.add("corrupt_positions" to error.detail)
    }
    try {
        Midship(settings(stateDir = base.stateDir + "-down").copy(serverUrl = "http://127.0.0.1:9"), null).start()
    } catch (error: MidshipException.Unreachable) {
        errors.add("unreachable" to error.detail)
    }
    // A server that is not Midship, and one that drops the connection in the middle of an answer.
    val garbage = fakeServer("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n<p>hi</p>")
    val dropping = fakeServer("HTTP/1.1 200 OK\r\nResult-Status: 1000\r\nContent-Length: 500\r\n\r\n{\"device_id\": \"x")
    try {
        Midship(settings(stateDir = base.stateDir + "-garbage").copy(serverUrl = garbage), null).start()
    } catch (error: MidshipException.BadAnswer) {
        errors.add("garbage" to error.detail)
    }
    try {
        Midship(settings(stateDir = base.stateDir + "-dropped").copy(serverUrl = dropping), null).start()
    } catch (error: MidshipException.Unreachable) {
        errors.add("dropped" to error.detail)
    }

    // A package signed by a key the app does not trust is refused before anything is written.
    val untrustingDir = base.stateDir + "-untrusting"
    val untrusting = Midship(settings(stateDir = untrustingDir).copy(packagePublicKeys = listOf(OTHER_PACKAGE_KEY)), null)
    untrusting.start()
    val offer = untrusting.delivery().check().first { it.kind == "h5" }
    try {
        untrusting.delivery().installH5(offer.releaseId)
    } catch (error: MidshipException.Package) {
        errors.add("untrusted_package" to error.detail)
    }
    check(!File(untrustingDir, "h5/30000001").exists(), "nothing written")
    untrusting.shutdown()
    midship.shutdown()
    say("bad", *errors.toTypedArray())
}

/** A small JSON reader for the vectors file (the JVM has none built in): objects, arrays, strings, numbers, literals. */
class Json(private val text: String) {
    private var at = 0

    fun read(): Any? {
        skip()
        return when (text[at]) {
            '{' -> {
                at++
                val map = mutableMapOf<String, Any?>()
                skip()
                if (text[at] == '}') { at++; return map }
                while (true) {
                    skip(); val key = read() as String; skip(); at++ // ':'
                    map[key] = read(); skip()
                    if (text[at++] == '}') return map
                }
                @Suppress("UNREACHABLE_CODE") map
            }
            '[' -> {
                at++
                val list = mutableListOf<Any?>()
                skip()
                if (text[at] == ']') { at++; return list }
                while (true) {
                    list.add(read()); skip()
                    if (text[at++] == ']') return list
                }
                @Suppress("UNREACHABLE_CODE") list
            }
            '"' -> string()
            else -> {
                val start = at
                while (at < text.length && text[at] !in ",}] \n\r\t") at++
                when (val word = text.substring(start, at)) {
                    "true" -> true
                    "false" -> false
                    "null" -> null
                    else -> word.toDouble()
                }
            }
        }
    }

    private fun string(): String {
        val out = StringBuilder()
        at++
        while (text[at] != '"') {
            if (text[at] == '\\') {
                at++
                when (val escaped = text[at]) {
                    'n' -> out.append('\n')
                    't' -> out.append('\t')
                    'r' -> out.append('\r')
                    'u' -> { out.append(text.substring(at + 1, at + 5).toInt(16).toChar()); at += 4 }
                    else -> out.append(escaped)
                }
            } else {
                out.append(text[at])
            }
            at++
        }
        at++
        return out.toString()
    }

    private fun skip() {
        while (at < text.length && text[at].isWhitespace()) at++
    }
}

/** Every request signature of conformance/signing-vectors.json, byte for byte. */
fun vectors(path: String) {
    @Suppress("UNCHECKED_CAST")
    val cases = (Json(File(path).readText()).read() as Map<String, Any?>)["request_signatures"] as List<Map<String, Any?>>
    for (case in cases) {
        val text = { field: String -> (case[field] ?: "") as String }
        val signed = signCall(
            CallToSign(
                method = text("method"), operationType = text("operation_type"), appId = text("app_id"),
                workspaceId = text("workspace_id"), deviceId = text("device_id"), userId = text("user_id"),
                ts = text("ts"), nonce = text("nonce"), body = text("body").toByteArray(),
                signType = text("sign_type"), key = text("key"),
            ),
        )
        check(signed.signingString == text("signing_string"), "signing string of ${text("name")}")
        check(signed.sign == text("sign"), "signature of ${text("name")}")
    }
    say("vectors", "cases" to cases.size)
}

fun main(args: Array<String>) {
    if (args[0] == "vectors") {
        vectors(args[1])
        exitProcess(0)
    }
    val (phase, serverUrl, appId, workspaceId, appSecret) = args
    base = MidshipSettings(
        serverUrl = serverUrl,
        appId = appId,
        workspaceId = workspaceId,
        appSecret = appSecret,
        stateDir = args[5],
        platform = "android",
        appVersion = "3.2.0",
        userId = "alice",
        osVersion = "14",
        model = "Pixel 8",
        configDefaultsJson = "{}",
        packagePublicKeys = listOf(args[6]),
    )
    runBlocking {
        when (phase) {
            "first" -> first()
            "again" -> again()
            "bad" -> bad()
            else -> check(false, "unknown phase $phase")
        }
    }
    exitProcess(0)
}
