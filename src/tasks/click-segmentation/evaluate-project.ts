/**
 * The NoC protocol on a project, as a user meets the model: every object of every image, clicks placed by the
 * simulated user at the image's own resolution, each step through `segmentFromClicks` with the previous mask.
 * This is what the README's figures and the example report (validation during training runs the same protocol
 * at the network's input size, one object per image).
 */
import { projectItems, readItemAnnotation, type ProjectListing } from '../../format/project-reader';
import { decodeImage } from '../../image/decode';
import { maskIou } from '../../training/metrics';
import { nextClick, type Click } from './clicks';
import type { ClickSegmenter } from './segment';
import { clickMetrics, MAX_CLICKS, NOC_THRESHOLDS, IOU_AT_CLICKS, type ClickMetrics } from './series';
import { objectMasks } from './training';

export interface ObjectSeries {
  item: string;
  object: number;
  /** Object pixels at the image's size. */
  area: number;
  ious: number[];
}

export interface ProjectClickScore extends ClickMetrics {
  series: ObjectSeries[];
}

/** Runs the protocol on every object (of at least `minArea` pixels) of every item of the project. */
export async function evaluateClicksOnProject(opts: {
  segmenter: ClickSegmenter;
  project: ProjectListing;
  maxClicks?: number;
  minArea?: number;
  onObject?: (done: ObjectSeries) => void;
}): Promise<ProjectClickScore> {
  const maxClicks = opts.maxClicks ?? MAX_CLICKS;
  const minClicks = Math.max(...IOU_AT_CLICKS);
  const top = Math.max(...NOC_THRESHOLDS);
  const series: ObjectSeries[] = [];
  for (const item of projectItems(opts.project)) {
    const annotation = await readItemAnnotation(opts.project, item);
    const image = await decodeImage(item.imagePath, { expectedSize: annotation.size });
    const grid = { height: image.height, width: image.width };
    const masks = objectMasks(annotation, grid);
    for (const [index, gt] of masks.entries()) {
      const area = gt.reduce((a, v) => a + v, 0);
      if (area < (opts.minArea ?? 1)) continue;
      const clicks: Click[] = [];
      const ious: number[] = [];
      let previous: Uint8Array | undefined;
      let click = nextClick(gt, new Uint8Array(gt.length), grid);
      for (let k = 1; k <= maxClicks && click !== null; k++) {
        clicks.push(click);
        const { mask } = await opts.segmenter.segmentFromClicks(image, clicks, previous);
        ious.push(maskIou(mask, gt));
        previous = mask;
        click = k >= minClicks && ious.some((v) => v >= top) ? null : nextClick(gt, mask, grid);
      }
      const done = { item: `${item.dataset}/${item.name}`, object: index, area, ious };
      series.push(done);
      opts.onObject?.(done);
    }
  }
  return {
    ...clickMetrics(
      series.map((s) => s.ious),
      maxClicks,
    ),
    series,
  };
}
