import { MessageChannel } from 'node:worker_threads';
import {
  TaskError,
  configError,
  dataError,
  deserializeError,
  formatMessage,
  serializeError,
  type SerializedError,
} from '../../src/errors';

describe('TaskError', () => {
  it('names the file, the item and the field before the detail', () => {
    const e = dataError('unknown class "cat"', {
      file: 'ds1/ann/a.jpg.json',
      item: 'objects[2]',
      field: 'classTitle',
    });
    expect(e.message).toBe('ds1/ann/a.jpg.json: objects[2]: field "classTitle": unknown class "cat"');
    expect(e.kind).toBe('data');
    expect(e).toBeInstanceOf(Error);
  });

  it('leaves out what is unknown', () => {
    expect(formatMessage('boom', {})).toBe('boom');
    expect(formatMessage('boom', { field: 'epochs' })).toBe('field "epochs": boom');
  });

  it('adds outer context without overriding the inner, more precise one', () => {
    const inner = configError('expected integer', { field: 'epochs' });
    const outer = inner.withContext({ file: 'task_config.json', field: 'ignored' });
    expect(outer).toBeInstanceOf(TaskError);
    expect(outer.message).toBe('task_config.json: field "epochs": expected integer');
  });
});

/** What the other side of a thread boundary receives: posted through a real MessagePort (structured clone). */
async function crossed(e: unknown): Promise<SerializedError> {
  const { port1, port2 } = new MessageChannel();
  try {
    const arrived = new Promise<SerializedError>((resolve) => port2.once('message', resolve));
    port1.postMessage(serializeError(e));
    return await arrived;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('errors crossing a thread boundary', () => {
  it('a TaskError stays a TaskError with its kind, detail, context and message, and the thread stack', async () => {
    const e = dataError('unknown class "cat"', {
      file: 'ds/ann/a.json',
      item: 'objects[2]',
      field: 'classTitle',
    });
    const back = deserializeError(await crossed(e), 'worker 1');
    expect(back).toBeInstanceOf(TaskError);
    expect(back).toMatchObject({ kind: 'data', detail: e.detail, context: e.context, message: e.message });
    expect(back.stack).toContain(`${e.message}\n--- in worker 1 ---\n`);
    expect(back.stack).toContain(e.stack!.split('\n')[1]); // a frame of the thread that threw it
  });

  it.each(['config', 'model'] as const)('keeps the kind %s', async (kind) => {
    const back = deserializeError(await crossed(new TaskError(kind, 'x', {})), 't');
    expect(back).toMatchObject({ kind, message: 'x', context: {} });
  });

  it('any other error becomes an Error naming the thread, with its stack', async () => {
    const e = new RangeError('oops');
    const back = deserializeError(await crossed(e), 'the onnxruntime thread');
    expect(back).not.toBeInstanceOf(TaskError);
    expect(back.message).toBe('the onnxruntime thread: oops');
    expect(back.stack).toContain('--- in the onnxruntime thread ---\nRangeError: oops');
    const thrown = deserializeError(await crossed('a string'), 'worker 0');
    expect(thrown.message).toBe('worker 0: a string');
  });
});
