import { createHash } from 'node:crypto';
import * as path from 'node:path';
import gtReference from './fixtures/tutorial-gt-reference.json';
import type { Label } from '../../src/format/model';
import {
  countItems,
  projectItems,
  readItemAnnotation,
  readSingleProject,
} from '../../src/format/project-reader';
import { rasteriseAnnotation } from '../../src/format/rasterise';
import { decodeImage } from '../../src/image/decode';

const projectDir = path.join(__dirname, 'fixtures', 'tutorial_project');

/** What the fixture holds, read off its JSON files by hand: class, geometry, object tags. */
const expected: Record<string, { size: [number, number]; tags: string[]; objects: string[] }> = {
  'dataset_01/bicycle-car.jpeg': {
    size: [1200, 800],
    tags: ['like', 'cars_number=1'],
    objects: ['bike rectangle', 'car polygon vehicle_age=vintage car_color=red'],
  },
  'dataset_01/bike-man-dog.jpeg': {
    size: [1200, 952],
    tags: [],
    objects: ['dog polygon', 'person bitmap person_gender=male', 'bike rectangle'],
  },
  'dataset_01/car-people-indoors.jpeg': {
    size: [1200, 800],
    tags: [],
    objects: [
      'car polygon vehicle_age=vintage car_color=blue',
      'person bitmap person_gender=male',
      'person bitmap person_gender=female',
      'person bitmap person_gender=male',
      'person bitmap person_gender=male',
    ],
  },
  'dataset_02/bmw.jpeg': {
    size: [1200, 801],
    tags: [],
    objects: ['bike rectangle', 'car polygon vehicle_age=modern car_color=black'],
  },
  'dataset_02/snow-city.jpeg': {
    size: [1200, 800],
    tags: [],
    objects: [
      'car polygon vehicle_age=modern car_color=light blue',
      'car polygon vehicle_age=modern car_color=yellow',
      'person bitmap person_gender=female',
    ],
  },
};

const tagText = (t: { name: string; value?: number | string }) =>
  t.value === undefined ? t.name : `${t.name}=${t.value}`;
const describeLabel = (l: Label) => [l.classTitle, l.geometry.type, ...l.tags.map(tagText)].join(' ');

describe('the tutorial project exported by Supervisely (spec B)', () => {
  it('lists 2 datasets and 5 items, with old-style <stem>.json annotation names', async () => {
    const project = await readSingleProject(projectDir);
    expect(project.name).toBe('tutorial_project');
    expect(project.datasets.map((d) => d.name)).toEqual(['dataset_01', 'dataset_02']);
    expect(countItems(project)).toBe(5);
    expect([...projectItems(project)].map((i) => `${i.dataset}/${i.name}`)).toEqual(Object.keys(expected));
    expect([...projectItems(project)].map((i) => path.basename(i.annotationPath))).toEqual([
      'bicycle-car.json',
      'bike-man-dog.json',
      'car-people-indoors.json',
      'bmw.json',
      'snow-city.json',
    ]);
    expect(project.meta.classes.map((c) => `${c.title}:${c.shape}`)).toEqual([
      'bike:rectangle',
      'car:polygon',
      'dog:polygon',
      'person:bitmap',
    ]);
    expect(project.meta.tagMetas.map((t) => `${t.name}:${t.valueType}`)).toEqual([
      'situated:oneof_string',
      'like:none',
      'cars_number:any_number',
      'car_color:any_string',
      'person_gender:oneof_string',
      'vehicle_age:oneof_string',
    ]);
  });

  it('reads every object with its class, geometry and tags; images match their annotation sizes', async () => {
    const project = await readSingleProject(projectDir);
    for (const item of projectItems(project)) {
      const annotation = await readItemAnnotation(project, item);
      const want = expected[`${item.dataset}/${item.name}`];
      expect([annotation.size.width, annotation.size.height]).toEqual(want.size);
      expect(annotation.tags.map(tagText)).toEqual(want.tags);
      expect(annotation.labels.map(describeLabel)).toEqual(want.objects);
      const image = await decodeImage(item.imagePath, {
        expectedSize: annotation.size,
        resize: { width: 64, height: 48 },
      });
      expect([image.width, image.height, image.exif]).toEqual([64, 48, 'none']);
    }
  });

  it('rasterises every object inside its image, and each mask equals the one the SDK draws with OpenCV', async () => {
    const project = await readSingleProject(projectDir);
    const classToIndex = gtReference.class_title_to_idx;
    for (const item of projectItems(project)) {
      const annotation = await readItemAnnotation(project, item);
      for (const label of annotation.labels) {
        // Each object alone: it covers pixels, and a rectangle fully inside the image covers its whole area.
        const alone = rasteriseAnnotation({ ...annotation, labels: [label] }, { classToIndex, fill: 0 });
        let drawn = 0;
        for (const v of alone) if (v !== 0) drawn++;
        expect(drawn).toBeGreaterThan(100);
        if (label.geometry.type === 'rectangle') {
          const g = label.geometry;
          expect(drawn).toBe((g.right - g.left + 1) * (g.bottom - g.top + 1));
        }
      }
      // Golden data: fixtures/make-tutorial-gt-reference.py draws the same annotation the SDK's way.
      const mask = rasteriseAnnotation(annotation, { classToIndex, fill: 0 });
      const reference =
        gtReference.items[
          `${item.dataset}/${path.basename(item.annotationPath)}` as keyof typeof gtReference.items
        ];
      const counts: Record<string, number> = {};
      for (const v of mask) counts[v] = (counts[v] ?? 0) + 1;
      expect(counts).toEqual(reference.counts);
      expect(createHash('sha256').update(mask).digest('hex')).toBe(reference.sha256);
    }
  });
});
