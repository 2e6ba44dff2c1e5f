/**
 * Accumulates ONNX nodes and initialisers and encodes the ModelProto with onnx-proto's generated protobuf
 * classes (no hand-written encoder). Knows nothing of tfjs.
 */
import { onnx } from 'onnx-proto';

/** Opset 13: the Softmax-13 single-axis semantics, Clip with tensor bounds, Resize-13; ORT 1.30 runs it fully. */
export const OPSET = 13;
/** IR version 7 is the one ONNX 1.8 paired with opset 13. */
export const IR_VERSION = 7;

export type AttrValue = number | string | readonly number[];
/** Attribute values; `ints:`/`floats:` are told apart by a marker since JS numbers carry no int/float type. */
export type Attrs = Readonly<
  Record<string, AttrValue | { readonly floats: readonly number[] } | { readonly float: number }>
>;

export type Dim = number | string;

export interface ValueInfo {
  readonly name: string;
  readonly dims: readonly Dim[];
  /** FLOAT unless given. */
  readonly elemType?: number;
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A tensor name not used yet, derived from `base` (ONNX needs every name unique in the graph). */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves an exact name (graph inputs and outputs); a clash is a bug in the exporter. */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX exporter: tensor name "${name}" used twice`);
    this.used.add(name);
    return name;
  }

  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Attrs = {},
    name?: string,
  ): void {
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: name ?? outputs[0],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
  }

  /** The node that writes `name`, when nothing reads `name` yet (a pass may then replace it, see `remove`). */
  unreadProducer(name: string): Readonly<onnx.INodeProto> | undefined {
    if (this.nodes.some((n) => (n.input ?? []).includes(name))) return undefined;
    return this.nodes.find((n) => (n.output ?? []).includes(name));
  }

  /**
   * Removes a node whose outputs nothing reads, so that a pass can emit it again in another form: appended
   * again, it still comes after its inputs.
   */
  remove(node: Readonly<onnx.INodeProto>): void {
    const read = (node.output ?? []).some((o) => this.nodes.some((n) => (n.input ?? []).includes(o)));
    const i = this.nodes.indexOf(node as onnx.INodeProto);
    if (i < 0 || read) throw new Error(`ONNX exporter: cannot remove node "${node.name}"`);
    this.nodes.splice(i, 1);
  }

  /** A float32 constant; returns its (fresh) name. */
  floatConst(base: string, dims: readonly number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length)
      throw new Error(`ONNX exporter: ${base} has ${data.length} values for dims ${dims}`);
    const name = this.fresh(base);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /** An int64 constant (shapes, axes, slice bounds); returns its (fresh) name. */
  int64Const(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.fresh(base);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: values.map((v) => {
        if (!Number.isSafeInteger(v)) throw new Error(`ONNX exporter: ${base} has a non-integer ${v}`);
        return v;
      }),
    });
    return name;
  }

  toModelProto(opts: {
    inputs: readonly ValueInfo[];
    outputs: readonly ValueInfo[];
    graphName: string;
    docString?: string;
    metadata?: Readonly<Record<string, string>>;
  }): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'sly-tfjs-segmentation',
      producerVersion: '0.1.0',
      docString: opts.docString ?? '',
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: opts.inputs.map(valueInfo),
        output: opts.outputs.map(valueInfo),
      },
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const err = onnx.ModelProto.verify(model);
    if (err !== null) throw new Error(`ONNX exporter built an invalid ModelProto: ${err}`);
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType ?? onnx.TensorProto.DataType.FLOAT,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attrs[string]): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v))
      throw new Error(`ONNX exporter: attribute ${name}=${v} is not an integer; use {float}`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if ('floats' in v) return { name, type: T.FLOATS, floats: [...v.floats] };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INTS, ints: [...v] };
}

/** ONNX raw_data is little-endian whatever the host; DataView makes that explicit. */
function littleEndianBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}
