// docs/sdk.md's quickstart: a JVM program that starts Midship's device SDK, prints a switch value
// and every sync message of CHAT-MSG that arrives in the next minute.
//
// Usage: Quickstart SERVER_URL APP_ID WORKSPACE_ID APP_SECRET

import kotlinx.coroutines.runBlocking
import uniffi.midship_mobile.Midship
import uniffi.midship_mobile.MidshipSettings
import uniffi.midship_mobile.SyncHandler
import uniffi.midship_mobile.SyncMessage

class PrintMessages : SyncHandler {
    override fun onMessage(message: SyncMessage) {
        println("sync ${message.bizType} #${message.seq}: ${message.payload}")
    }
}

fun main(args: Array<String>) = runBlocking {
    val (serverUrl, appId, workspaceId, appSecret) = args
    val midship = Midship(
        MidshipSettings(
            serverUrl = serverUrl,
            appId = appId,
            workspaceId = workspaceId,
            appSecret = appSecret,
            stateDir = System.getProperty("user.home") + "/.midship-quickstart",
            platform = "android",
            appVersion = "1.0.0",
            userId = "alice",
            osVersion = null,
            model = null,
            configDefaultsJson = """{"welcome.text": "hello from the defaults"}""",
            packagePublicKeys = emptyList(),
        ),
        null,
    )
    midship.sync().register("CHAT-MSG", PrintMessages())
    midship.start()
    println("device ${midship.deviceId()}")
    println("welcome.text = ${midship.config().getString("welcome.text", "")}")
    println("waiting a minute for sync messages to alice...")
    Thread.sleep(60_000)
    midship.shutdown()
}
