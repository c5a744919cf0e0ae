/**
 * The first frame of the long connection (docs/protocol.md, *Authentication*): who the device is,
 * how it proves it — a signature like a call's (method `CONNECT`, operation type
 * `midship.connect`, empty body; with the device credential once registered) or a connection
 * token — and, per bizType, the last sequence the app processed, so the server resumes after it.
 */

import { MidshipError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { RpcClient } from './rpc.js';

export async function buildHello(
  options: ResolvedOptions,
  rpc: RpcClient,
  foreground: boolean,
  positions: (deviceId: string | undefined, userId: string | undefined) => Promise<Record<string, number>>,
): Promise<Record<string, unknown>> {
  const frame: Record<string, unknown> = {
    type: 'hello',
    app_id: options.appId,
    workspace_id: options.workspaceId,
    platform: options.platform,
    foreground,
  };
  const auth = options.syncAuth ?? 'signature';
  if (auth === 'signature') {
    Object.assign(frame, await rpc.helloProof());
  } else {
    const token = auth === 'token' ? await tokenFromServer(rpc) : await auth();
    if (typeof token !== 'string' || token === '') {
      throw new MidshipError({ kind: 'invalid', memo: 'the token provider answered no token' });
    }
    frame.token = token;
    if (rpc.identity.deviceId) frame.device_id = rpc.identity.deviceId;
  }
  if (rpc.userId) frame.user_id = rpc.userId;
  if (options.appVersion) frame.app_version = options.appVersion;
  if (options.osVersion) frame.os_version = options.osVersion;
  // Read last: positions belong to the device id, which registration may just have issued.
  frame.positions = await positions(rpc.identity.deviceId, rpc.userId);
  return frame;
}

/** A token from `midship.sync.token`: bound to this device, valid 10 minutes, asked afresh per connection. */
async function tokenFromServer(rpc: RpcClient): Promise<string> {
  const answer = await rpc.call<{ token?: unknown }>('midship.sync.token', {}, { transport: 'http' });
  return answer && typeof answer.token === 'string' ? answer.token : '';
}
