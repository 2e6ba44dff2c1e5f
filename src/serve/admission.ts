/**
 * A bounded queue in front of a model: at most `limit` requests are admitted at once (waiting for the network
 * or in it); one more is refused at once with 503 and Retry-After instead of waiting in memory. The network
 * batcher behind it therefore never holds more than `limit` images, however many clients connect.
 */
import { unavailable } from './http-error';

export class Admission {
  private inFlight = 0;

  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly onReject: () => void = () => undefined,
  ) {
    if (limit < 1) throw new RangeError(`a queue holds at least one request, got ${limit}`);
  }

  get depth(): number {
    return this.inFlight;
  }

  /** Whether the next request would be refused (checked before an upload is parsed). */
  get full(): boolean {
    return this.inFlight >= this.limit;
  }

  /** Counts a refusal and throws its 503 (Retry-After: 1). */
  refuse(): never {
    this.onReject();
    throw unavailable(
      `the ${this.name} queue is full (${this.inFlight} of ${this.limit} requests in flight); retry shortly`,
    );
  }

  /** Runs `work` if there is room, else refuses. */
  async run<T>(work: () => Promise<T>, weight = 1): Promise<T> {
    if (this.inFlight + weight > this.limit) this.refuse();
    this.inFlight += weight;
    try {
      return await work();
    } finally {
      this.inFlight -= weight;
    }
  }
}
