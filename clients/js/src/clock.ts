/**
 * The client's idea of the server's time. A signed call whose `Ts` is more than the window
 * (5 minutes by default) away from the server's clock is refused with 7003, and phones' clocks
 * are often set by hand; so the client keeps an offset learnt from the server and signs with the
 * device clock plus that offset.
 */

export class Clock {
  private offsetMs = 0;

  /** `device` is the device's own clock (milliseconds since the epoch); tests pass a skewed one. */
  constructor(private readonly device: () => number = () => Date.now()) {}

  /** The device clock, uncorrected. */
  deviceNow(): number {
    return this.device();
  }

  /** The corrected clock, which `Ts` and analytics event times use. */
  now(): number {
    return Math.round(this.device() + this.offsetMs);
  }

  get offset(): number {
    return this.offsetMs;
  }

  /**
   * Learns the offset from a server time seen between `sentAt` and `receivedAt` (device clock):
   * the server read its clock somewhere in between, so the midpoint is the best guess.
   */
  learn(serverMs: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(serverMs) || serverMs <= 0) return;
    this.offsetMs = serverMs - (sentAt + receivedAt) / 2;
  }
}
