/**
 * Clips from a decoded video: annotated frames in order at one gap, one window on every frame (the same pixels
 * of each frame, flipped or not), holding an object of the first frame; too few frames give no clip; a frame
 * smaller than the window is stretched to it; validation frames keep only the first frame's objects.
 */
import {
  validationFrames,
  videoClip,
  type DecodedFrame,
  type DecodedVideo,
} from '../../../src/tasks/video-tracking/video-clips';
import { mulberry32 } from '../../../src/util/random';

const W = 40;
const H = 24;

/** Frame t: red = t * 10, green = x * 5, blue = y * 8; object 1 a 4x4 box at x = 2 + 2t, y = 10; object 2 from frame 3. */
function video(frames: number, w = W, h = H): DecodedVideo {
  const out: DecodedFrame[] = [];
  for (let t = 0; t < frames; t++) {
    const rgb = new Uint8Array(w * h * 3);
    const ids = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        rgb.set([t * 10, x * 5, y * 8], (y * w + x) * 3);
        if (x >= 2 + 2 * t && x < 6 + 2 * t && y >= 10 && y < 14) ids[y * w + x] = 1;
        if (t >= 3 && x >= 30 && y < 4) ids[y * w + x] = 2;
      }
    }
    out.push({ index: t * 2, rgb, ids });
  }
  return { name: 'ds0/v.mp4', width: w, height: h, frames: out };
}

describe('video clips', () => {
  it('are annotated frames in order at one gap, through one window holding an object of the first frame', () => {
    const v = video(12);
    const flips = new Set<boolean>();
    for (let seed = 0; seed < 40; seed++) {
      const clip = videoClip(v, mulberry32(seed), 3, { width: 16, height: 16 });
      if (clip === null) throw new Error('no clip');
      expect([clip.width, clip.height, clip.rgb.length, clip.ids.length]).toEqual([16, 16, 3, 3]);
      const frameOf = clip.rgb.map((rgb) => rgb[0] / 10);
      const gap = frameOf[1] - frameOf[0];
      expect(gap).toBeGreaterThanOrEqual(1);
      expect(gap).toBeLessThanOrEqual(3);
      expect(frameOf[2] - frameOf[1]).toBe(gap);
      // The same window on every frame: the same source x (green) and y (blue) at each pixel.
      for (const rgb of clip.rgb.slice(1)) {
        for (let i = 0; i < 16 * 16; i++) {
          expect(rgb[i * 3 + 1]).toBe(clip.rgb[0][i * 3 + 1]);
          expect(rgb[i * 3 + 2]).toBe(clip.rgb[0][i * 3 + 2]);
        }
      }
      // Each pixel's label is the source pixel's label on that frame.
      clip.ids.forEach((ids, f) => {
        const t = frameOf[f];
        for (let i = 0; i < ids.length; i++) {
          const x = clip.rgb[f][i * 3 + 1] / 5;
          const y = clip.rgb[f][i * 3 + 2] / 8;
          expect(ids[i]).toBe(v.frames[t].ids[y * W + x]);
        }
      });
      expect(clip.ids[0].some((id) => id !== 0)).toBe(true);
      flips.add(clip.rgb[0][1 * 3 + 1] < clip.rgb[0][1]);
    }
    expect([...flips].sort()).toEqual([false, true]);
  });

  it('gives none from too few frames, and stretches frames smaller than the window', () => {
    expect(videoClip(video(2), mulberry32(1), 3, { width: 16, height: 16 })).toBeNull();
    const small = video(4, 10, 14);
    const clip = videoClip(small, mulberry32(1), 3, { width: 16, height: 16 });
    expect(clip?.rgb[0]).toHaveLength(16 * 16 * 3);
    // Stretched alike: each pixel's label is that of the source pixel its colour names.
    clip?.ids.forEach((ids, f) => {
      const t = (clip.rgb[f][0] as number) / 10;
      for (let i = 0; i < ids.length; i++) {
        const x = clip.rgb[f][i * 3 + 1] / 5;
        const y = clip.rgb[f][i * 3 + 2] / 8;
        expect(ids[i]).toBe(small.frames[t].ids[y * 10 + x]);
      }
      expect(ids.some((id) => id !== 0)).toBe(true);
    });
  });

  it('validation frames keep the objects of the first frame only', () => {
    const frames = [...validationFrames(video(6), 5)];
    expect(frames).toHaveLength(5);
    for (const f of frames) expect([...new Set(f.ids)].sort()).toEqual([0, 1]);
  });
});
