/**
 * `npm run bench:format`: reading a project the way training does. Generates a project of N images (env N,
 * default 1000) of 640x480 JPEG with 2-5 objects each (polygons, rectangles, bitmaps) with the synthetic
 * project generator, then, item by item: parse the annotation (including bitmap decoding), decode the image to
 * RGB, and rasterise the annotation to a class-index mask. Generation is not timed. The last line is one JSON
 * object: items/s, ms per item by phase, peak RSS and RSS at 25/50/100 % of the items (memory must stay flat:
 * nothing holds past items). A second pass runs the same work with CONCURRENCY items in flight (env, default
 * 2: sharp decodes on libuv threads, so two cores can decode two images at once), as a prefetching loader would.
 */

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateSyntheticProject } from '../src/example/synthetic-project';
import { countItems, openProject, projectItems, readItemAnnotation } from '../src/format/project-reader';
import { rasteriseAnnotation } from '../src/format/rasterise';
import { decodeImage } from '../src/image/decode';

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 1000);
  if (!Number.isInteger(n) || n < 4) throw new Error(`N must be an integer >= 4, got ${process.env.N}`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-format-'));
  try {
    const generateStart = performance.now();
    const generated = await generateSyntheticProject({
      dir,
      projectName: 'bench_format',
      datasets: [
        { name: 'ds1', count: Math.floor(n / 2) },
        { name: 'ds2', count: n - Math.floor(n / 2) },
      ],
      width: 640,
      height: 480,
      classes: [
        { title: 'circle', geometry: 'polygon' },
        { title: 'square', geometry: 'rectangle' },
        { title: 'triangle', geometry: 'bitmap' },
      ],
      objectsPerImage: { min: 2, max: 5 },
      seed: 7,
      imageFormat: 'jpeg',
    });
    const generateSeconds = (performance.now() - generateStart) / 1000;
    console.log(`generated ${generated.items.length} items in ${generateSeconds.toFixed(1)} s at ${dir}`);

    const listStart = performance.now();
    const project = await openProject(generated.projectDir);
    const listMs = performance.now() - listStart;
    const total = countItems(project);
    const classToIndex = Object.fromEntries(project.meta.classes.map((c, i) => [c.title, i + 1]));
    const checkpoints = new Map([0.25, 0.5, 1].map((f) => [Math.max(1, Math.round(f * total)), f]));
    const rssAt: Record<string, number> = {};
    let parseMs = 0;
    let decodeMs = 0;
    let rasteriseMs = 0;
    let labels = 0;
    let checksum = 0;
    let done = 0;
    const start = performance.now();
    for (const item of projectItems(project)) {
      const t0 = performance.now();
      const annotation = await readItemAnnotation(project, item);
      const t1 = performance.now();
      const image = await decodeImage(item.imagePath, { expectedSize: annotation.size });
      const t2 = performance.now();
      const mask = rasteriseAnnotation(annotation, { classToIndex, fill: 0 });
      const t3 = performance.now();
      parseMs += t1 - t0;
      decodeMs += t2 - t1;
      rasteriseMs += t3 - t2;
      labels += annotation.labels.length;
      // Use the results, so no phase can be skipped as dead code.
      checksum =
        (checksum + mask[(done * 7919) % mask.length] + image.data[(done * 104729) % image.data.length]) | 0;
      done++;
      const fraction = checkpoints.get(done);
      if (fraction !== undefined) rssAt[`${fraction * 100}%`] = Math.round(process.memoryUsage().rss / MB);
    }
    const seconds = (performance.now() - start) / 1000;

    const concurrency = Number(process.env.CONCURRENCY ?? 2);
    const queue = projectItems(project);
    const concurrentStart = performance.now();
    const worker = async (): Promise<void> => {
      for (let next = queue.next(); !next.done; next = queue.next()) {
        const annotation = await readItemAnnotation(project, next.value);
        const image = await decodeImage(next.value.imagePath, { expectedSize: annotation.size });
        const mask = rasteriseAnnotation(annotation, { classToIndex, fill: 0 });
        checksum = (checksum + mask[0] + image.data[0]) | 0;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const concurrentSeconds = (performance.now() - concurrentStart) / 1000;
    const result = {
      bench: 'format',
      items: total,
      imageSize: '640x480 jpeg',
      labelsPerItem: Number((labels / total).toFixed(2)),
      itemsPerSecond: Number((total / seconds).toFixed(1)),
      itemsPerSecondConcurrent: {
        concurrency,
        itemsPerSecond: Number((total / concurrentSeconds).toFixed(1)),
      },
      msPerItem: {
        total: Number(((seconds * 1000) / total).toFixed(3)),
        annotationParse: Number((parseMs / total).toFixed(3)),
        imageDecode: Number((decodeMs / total).toFixed(3)),
        rasterise: Number((rasteriseMs / total).toFixed(3)),
      },
      listProjectMs: Number(listMs.toFixed(1)),
      rssMB: rssAt,
      rssAfterConcurrentMB: Math.round(process.memoryUsage().rss / MB),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      generateSeconds: Number(generateSeconds.toFixed(1)),
      checksum,
      note: 'one process, one item at a time; figures are noisy when other jobs share the CPU',
    };
    console.log(JSON.stringify(result));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
