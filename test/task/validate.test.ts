import { applyGpuDevices, remapGpuDevices } from '../../src/task/gpu';
import { describeValue, editDistance, nearest, pointerToPath, schemaProblems } from '../../src/task/validate';

describe('validation helpers', () => {
  it('editDistance counts a swap of neighbours as one edit', () => {
    expect(editDistance('val_evrey', 'val_every')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('nearest suggests only plausible typos', () => {
    expect(nearest('val_evrey', ['epochs', 'val_every', 'lr'])).toBe('val_every');
    expect(nearest('EPOCHS', ['epochs'])).toBe('epochs');
    expect(nearest('completely_different', ['epochs', 'lr'])).toBeUndefined();
  });

  it('pointerToPath writes dots and indexes', () => {
    expect(pointerToPath('')).toBe('');
    expect(pointerToPath('/batch_size/train')).toBe('batch_size.train');
    expect(pointerToPath('/gpu_devices/1')).toBe('gpu_devices[1]');
    expect(pointerToPath('/a~1b/c~0d')).toBe('a/b.c~d');
  });

  it('describeValue names the type of what was found', () => {
    expect(describeValue('8')).toBe('"8" (a string)');
    expect(describeValue(2.5)).toBe('2.5');
    expect(describeValue([1])).toBe('a list of 1 item');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(null)).toBe('null');
  });

  it('schemaProblems keeps the summary of a failed anyOf, not each branch', () => {
    const schema = { description: 'a or a number', anyOf: [{ const: 'a' }, { type: 'number' }] };
    expect(schemaProblems('b', schema)).toEqual([
      { path: '', text: 'expected a or a number, found "b" (a string)' },
    ]);
    expect(schemaProblems(3, schema)).toEqual([]);
  });
});

describe('GPU remap (spec G.2, H.4)', () => {
  it('makes the listed devices visible and renumbers them from 0', () => {
    expect(remapGpuDevices([0, 2])).toEqual({ cudaVisibleDevices: '0,2', deviceIds: [0, 1] });
    const env: NodeJS.ProcessEnv = {};
    expect(applyGpuDevices([3], env)).toEqual([0]);
    expect(env.CUDA_VISIBLE_DEVICES).toBe('3');
  });
});
