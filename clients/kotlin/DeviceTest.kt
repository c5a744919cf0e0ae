// The Kotlin binding of the device SDK (UniFFI, from crates/midship-mobile) on the JVM against a
// real `midship serve`, driven step by step by crates/midship/tests/it/mobile_bindings.rs, like
// clients/python/device_test.py.
//
// Usage: DeviceTest PHASE SERVER_URL APP_ID WORKSPACE_ID APP_SECRET STATE_DIR PACKAGE_KEY
// Prints one JSON line per step; exits non-zero with the reason on any difference.

import java.io.File
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import uniffi.midship_mobile.Midship
import uniffi.midship_mobile.MidshipException
import uniffi.midship_mobile.MidshipSettings
import uniffi.midship_mobile.PushHandler
import uniffi.midship_mobile.PushNotice
import uniffi.midship_mobile.SyncHandler
import uniffi.midship_mobile.SyncMessage

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
    midship.shutdown()
    say("bad", *errors.toTypedArray())
}

fun main(args: Array<String>) {
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
