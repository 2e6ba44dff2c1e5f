export {
  exportToOnnx,
  exportLayerGraph,
  checkExportable,
  EXPORTER_VERSION,
  EXPORTER_VERSION_KEY,
  SUPPORTED_LAYER_CLASSES,
} from './export';
export type { OnnxExport, OnnxExportOptions } from './export';
export { readLayerGraph } from './layer-graph';
export type { LayerGraph, GraphNode } from './layer-graph';
export { OPSET } from './graph-builder';
export { exportCheckpointToOnnx, onnxMetadataFromClassMap, ONNX_FILE } from './checkpoint-export';
export type { CheckpointExportSummary } from './checkpoint-export';
export { checkpointWeightsHash, modelWeightsHash, WEIGHTS_HASH_KEY } from './weights-hash';
