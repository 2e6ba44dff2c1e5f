import { unitProgress } from '../../src/cli/progress';

describe('CLI progress lines', () => {
  it('give the rate and, with a known total, the time left at that rate', () => {
    expect(unitProgress({ unit: 'frame', done: 50, total: 200, seconds: 10 })).toBe(
      'frame 50/200: 5.0 fps, 30 s left',
    );
    expect(unitProgress({ unit: 'frame', done: 200, total: 200, seconds: 10 })).toBe(
      'frame 200/200: 20.0 fps, 0 s left',
    );
  });

  it('say no time left when the total is unknown or nothing is done yet', () => {
    expect(unitProgress({ unit: 'frame', done: 50, total: null, seconds: 10 })).toBe('frame 50: 5.0 fps');
    expect(unitProgress({ unit: 'image', done: 0, total: 9, seconds: 1 })).toBe('image 0/9: 0.0 images/s');
  });
});
