/**
 * The house plan (README, Layout), checked: `npm run lint` runs `depcruise src plugin bench` with these rules.
 * Paths are relative to the repository root; type-only imports count too (tsPreCompilationDeps).
 * Tests are not cruised: they may import anything. bench/ is a composition root, like the entry points.
 */

/** Composition roots inside src/: they read the task, choose the network and wire the rooms together. */
const ROOTS = '^src/(train\\.ts|inference\\.ts|plugins\\.ts|cli/|example/|serve/)';

/**
 * The rooms of src/, bottom to top. A room imports only rooms in lower layers (and itself), never one in its
 * own layer or above, so no chain of imports can lead from a room back to it: no folder-level cycles.
 * src/errors.ts sits at the bottom with util/; the composition roots (ROOTS) sit above the top layer.
 * The bottom, the contracts, threads/ and the top layer have stricter rules of their own below
 * (bottom-imports-nothing, contracts-stand-alone, threads-stand-alone, training-and-inference-apart), so the
 * generated `layer-*` rules cover the middle.
 */
const LAYERS = [
  ['util'],
  // threads/ (the worker-thread channel every worker uses) stands on errors.ts alone: rule threads-stand-alone.
  ['protocol', 'format', 'threads'],
  ['task', 'image', 'backend'],
  // video/ (ffmpeg pipes, frame folders, overlays) decodes frames with image/, so it sits just above it.
  ['network', 'video'],
  ['model-state', 'onnx'],
  ['training', 'inference'],
];

const dirs = (rooms) => rooms.map((r) => `${r}/`).join(', ');

const layerRules = LAYERS.slice(2, -1).map((rooms, j) => {
  const i = j + 2;
  return {
    name: `layer-${rooms.join('-')}`,
    comment:
      `${dirs(rooms)} import only lower layers (${dirs(LAYERS.slice(0, i).flat())}, errors.ts), ` +
      'never a room of their own layer or above: layers keep the rooms free of folder-level cycles ' +
      '(model-state/ and network/ once imported training/ for the class map and the seeded random).',
    severity: 'error',
    from: { path: `^src/(${rooms.join('|')})/` },
    to: { path: `^src/(${LAYERS.slice(i).flat().join('|')})/`, pathNot: '^src/$1/' },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'No module imports itself through a chain: a cycle makes load order matter (an import is undefined ' +
        'while its module is still loading) and means two modules are one job split in two.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'entry-points-imported-by-nothing',
      comment:
        'train.ts and inference.ts run a task when loaded (read the task folder, set the exit code); ' +
        'importing one would run it. Tests and benchmarks call the rooms below them instead.',
      severity: 'error',
      from: { path: '^(src|plugin)/' },
      to: { path: '^src/(train|inference)\\.ts$' },
    },
    {
      name: 'cli-imported-by-nothing',
      comment:
        'cli/ is the `sly-nn` command, a composition root: the runtime does not call its own command line.',
      severity: 'error',
      from: { path: '^(src|plugin)/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'example-only-from-cli',
      comment:
        'example/ (the synthetic project, `npm run example`) is a composition root; only the CLI may compose ' +
        'it. The runtime never depends on demo code.',
      severity: 'error',
      from: { path: '^(src|plugin)/', pathNot: '^src/(example|cli)/' },
      to: { path: '^src/example/' },
    },
    {
      name: 'plugin-registry-only-from-roots',
      comment:
        'plugins.ts names the concrete networks the image ships; only the entry points and the CLI ' +
        'choose. Everything below sees a network through src/network/types.ts.',
      severity: 'error',
      from: { path: '^(src|plugin)/', pathNot: ROOTS },
      to: { path: '^src/plugins\\.ts$' },
    },
    {
      name: 'tasks-only-from-roots',
      comment:
        'tasks/ (semantic segmentation, click segmentation...) sit between the composition roots and the ' +
        'runtime rooms: entry points -> tasks -> runtime. The runtime serves every task and imports none; a task ' +
        'never imports another task.',
      severity: 'error',
      from: { path: '^(src|plugin)/', pathNot: `${ROOTS}|^src/tasks/index\\.ts$` },
      to: { path: '^src/tasks/', pathNot: '^src/tasks/([^/]+)/' },
    },
    {
      name: 'runtime-never-imports-a-task',
      comment: 'The runtime rooms serve every task through src/training/task.ts and import none of them.',
      severity: 'error',
      from: { path: '^(src|plugin)/', pathNot: `${ROOTS}|^src/tasks/` },
      to: { path: '^src/tasks/' },
    },
    {
      name: 'a-task-never-imports-another',
      comment: 'Each task folder is a problem of its own; what two tasks share belongs to a runtime room.',
      severity: 'error',
      from: { path: '^src/tasks/([^/]+)/' },
      to: { path: '^src/tasks/', pathNot: '^src/tasks/$1/' },
    },
    {
      name: 'runtime-never-imports-a-plugin',
      comment:
        'The runtime rooms never import a concrete network (plugin/): the composition roots choose one and ' +
        'pass it down through the interface in src/network/types.ts, so a second network needs no change below.',
      severity: 'error',
      from: { path: '^src/', pathNot: ROOTS },
      to: { path: '^plugin/' },
    },
    {
      name: 'plugin-sees-only-the-interface',
      comment:
        'A network plugin depends on tfjs and on the small interface the runtime defines (network/types.ts, ' +
        'errors.ts, util/), not on the runtime rooms, so the runtime can change behind that interface.',
      severity: 'error',
      from: { path: '^plugin/' },
      to: {
        path: '^src/',
        // plus the inference mode vocabulary (types only), in which a network states its default mode
        pathNot: '^src/(network/types\\.ts|errors\\.ts|util/|task/inference-config\\.ts)',
      },
    },
    {
      name: 'contracts-stand-alone',
      comment:
        'format/ (the Supervisely project format) and protocol/ (the agent log protocol) are the two contracts ' +
        'with the platform and must be testable alone: each imports only itself, util/ and errors.ts, ' +
        'nothing of training/, inference/, onnx/, backend/, network/ or model-state/.',
      severity: 'error',
      from: { path: '^src/(format|protocol)/' },
      to: { path: '^src/', pathNot: '^src/($1/|util/|errors\\.ts$)' },
    },
    {
      name: 'contracts-without-tensors',
      comment:
        'format/ and protocol/ know nothing of tfjs or onnxruntime: the platform contracts load and run without ' +
        'a tensor library (and without its start-up cost).',
      severity: 'error',
      from: { path: '^src/(format|protocol)/' },
      to: { path: '(^|/)node_modules/(@tensorflow/|onnxruntime-)' },
    },
    {
      name: 'training-and-inference-apart',
      comment:
        'training/ and inference/ are two tasks side by side: neither imports the other. What both need ' +
        'lives in a room below them (model-state/, format/, image/, network/, onnx/...).',
      severity: 'error',
      from: { path: '^src/(training|inference)/' },
      to: { path: '^src/(training|inference)/', pathNot: '^src/$1/' },
    },
    {
      name: 'threads-stand-alone',
      comment:
        'threads/ is the one worker-thread channel (requests by id, transfers, sticky failure, close) under the ' +
        'data-parallel workers, the onnxruntime session thread and the inference network threads: it is ' +
        'plumbing, generic in its messages, so it imports only itself, util/ and errors.ts (the cross-thread ' +
        'error format), never a runtime room, a task or a tensor library.',
      severity: 'error',
      from: { path: '^src/threads/' },
      to: {
        path: '^src/|(^|/)node_modules/(@tensorflow/|onnxruntime-)',
        pathNot: '^src/(threads/|util/|errors\\.ts$)',
      },
    },
    {
      name: 'video-stands-on-image-and-format',
      comment:
        'video/ (video and frame-folder I/O through ffmpeg, mask overlays) is I/O for the tasks: it imports only ' +
        'itself, util/, format/ (palette, index PNGs), image/ (decoding) and errors.ts, never a tensor room.',
      severity: 'error',
      from: { path: '^src/video/' },
      to: { path: '^src/', pathNot: '^src/(video/|util/|format/|image/|errors\\.ts$)' },
    },
    ...layerRules,
    {
      name: 'bottom-imports-nothing',
      comment: 'errors.ts and util/ are the bottom of the graph: they import no other module of src/.',
      severity: 'error',
      from: { path: '^src/(util/|errors\\.ts$)' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'no-dev-dependencies-at-run-time',
      comment:
        'The image installs dependencies only; a runtime import of a devDependency would fail there. Type-only ' +
        'imports vanish when compiled, so they may name one.',
      severity: 'error',
      from: { path: '^(src|plugin)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-packages',
      comment:
        'Every package imported at run time is declared in package.json, not borrowed from a dependency of ' +
        "one. A type-only import may name a dependency's own dependency (protocol/logger.ts: winston-transport).",
      severity: 'error',
      from: { path: '^(src|plugin|bench)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
    },
  },
};
