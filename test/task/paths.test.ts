import path from 'path';
import { DEFAULT_TASK_DIR, displayPath, resolveTaskPaths, taskPathsAt } from '../../src/task/paths';

describe('task paths (spec A.1)', () => {
  it('defaults to /sly_task_data with the SDK layout', () => {
    const p = resolveTaskPaths({});
    expect(p.root).toBe(DEFAULT_TASK_DIR);
    expect(p).toEqual({
      root: '/sly_task_data',
      taskConfig: '/sly_task_data/task_config.json',
      legacyTaskSettings: '/sly_task_data/task_settings.json',
      data: '/sly_task_data/data',
      model: '/sly_task_data/model',
      modelConfig: '/sly_task_data/model/config.json',
      results: '/sly_task_data/results',
      tmp: '/sly_task_data/tmp',
    });
  });

  it('SLY_TASK_DATA overrides the root (made absolute); a blank value is ignored', () => {
    expect(resolveTaskPaths({ SLY_TASK_DATA: '/tmp/task7' }).results).toBe('/tmp/task7/results');
    expect(resolveTaskPaths({ SLY_TASK_DATA: 'rel/task' }).root).toBe(path.resolve('rel/task'));
    expect(resolveTaskPaths({ SLY_TASK_DATA: '  ' }).root).toBe(DEFAULT_TASK_DIR);
  });

  it('names files relative to the task folder in messages', () => {
    const p = taskPathsAt('/t');
    expect(displayPath(p, '/t/model/config.json')).toBe('model/config.json');
    expect(displayPath(p, '/elsewhere/x.json')).toBe('/elsewhere/x.json');
  });
});
