import type { SpanAck } from '../model/span.js';
import type { SegmentLog } from './segment-log.js';

/**
 * The durability of one log record: `spans × exporters` settlements are owed; when all have come,
 * the record is released. Shared by every span of the record.
 */
export class RecordAck implements SpanAck {
  private remaining: number;

  constructor(
    private readonly log: SegmentLog,
    readonly seq: number,
    spans: number,
    private readonly fanout: number,
    private readonly onReleased?: () => void,
  ) {
    this.remaining = spans * fanout;
    if (this.remaining <= 0) this.release();
  }

  done(): void {
    if (--this.remaining === 0) this.release();
  }

  /** Made by one pipeline's join, dropped only by it: its `exporters` are this record's fanout. */
  drop(): void {
    this.remaining -= this.fanout;
    if (this.remaining <= 0 && this.remaining > -this.fanout) this.release();
  }

  /** The whole record, at once (the pipeline refused it: the client was told to retry). */
  releaseAll(): void {
    if (this.remaining > 0) {
      this.remaining = 0;
      this.release();
    }
  }

  private release(): void {
    this.log.release(this.seq);
    this.onReleased?.();
  }
}
