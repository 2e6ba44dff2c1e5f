import { TaskError, configError, dataError, formatMessage } from '../../src/errors';

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
