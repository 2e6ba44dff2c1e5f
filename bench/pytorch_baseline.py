#!/usr/bin/env python3
"""PyTorch baseline for `npm run bench:infer`: the same network, in PyTorch, on this CPU.

The issue's speed goal is relative to "the same network in PyTorch on this CPU", so the bench measures that
figure here, in the same run, instead of quoting one from another machine. This script rebuilds a tfjs layers
model (`model.json` + `weights.bin`, as our checkpoints hold it) in PyTorch, checks that it computes what the
exported ONNX graph computes (so the figure is for the same network), then times batches of random inputs.

Three ways to run it in PyTorch are timed, and the best counts: eager (`model.eval()` under
`torch.inference_mode()`), eager with channels-last memory, and TorchScript frozen for inference
(`torch.jit.freeze` + `optimize_for_inference`, which folds BatchNorm into the convolutions as our exporter does).

Usage: pytorch_baseline.py MODEL_DIR --size S --batch B --images N --threads 1,2
                           [--check-input X.bin --check-output Y.bin]
X.bin holds one batch of NHWC float32 inputs, Y.bin the scores the ONNX graph gave for them (NHWC float32).
Needs Debian's python3-torch (1.13). The last line printed is one JSON object.
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn


class Unsupported(Exception):
    pass


def read_weights(model_dir, manifest):
    """Every float32 weight in the manifest by name, in tfjs layouts."""
    out = {}
    for group in manifest:
        data = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            if w["dtype"] == "float32":
                out[w["name"]] = np.frombuffer(data, np.float32, count, offset).reshape(w["shape"])
            elif w["dtype"] not in ("int32", "bool"):  # the optimizer's step count is int32; skipped
                raise Unsupported(f"weight {w['name']}: dtype {w['dtype']}")
            offset += (1 if w["dtype"] == "bool" else 4) * count
    return out


def activation(name):
    if name == "linear":
        return None
    if name == "relu":
        return nn.ReLU()
    if name == "softmax":
        return nn.Softmax(dim=1)  # channels are dim 1 in NCHW
    raise Unsupported(f"activation {name}")


def same_padding(layer, kernel, strides):
    if layer["config"]["padding"] == "valid":
        return 0
    if any(s != 1 for s in strides) or any(k % 2 == 0 for k in kernel):
        raise Unsupported(f"layer {layer['name']}: 'same' padding with kernel {kernel}, strides {strides}")
    return tuple(k // 2 for k in kernel)


def weight(weights, layer, name):
    key = f"{layer['name']}/{name}"
    if key not in weights:
        raise Unsupported(f"layer {layer['name']}: no weight {key} in the manifest")
    return torch.from_numpy(weights[key].copy())


def build_layer(layer, weights):
    """One tfjs layer as a torch module (NCHW), with its weights."""
    kind, cfg = layer["class_name"], layer["config"]
    if kind == "Conv2D":
        kernel, strides = cfg["kernel_size"], cfg["strides"]
        if cfg.get("dilation_rate", [1, 1]) != [1, 1]:
            raise Unsupported(f"layer {layer['name']}: dilation {cfg['dilation_rate']}")
        k = weight(weights, layer, "kernel")  # [kh, kw, in, out]
        conv = nn.Conv2d(k.shape[2], k.shape[3], tuple(kernel), tuple(strides),
                         padding=same_padding(layer, kernel, strides), bias=cfg["use_bias"])
        conv.weight.data = k.permute(3, 2, 0, 1).contiguous()
        if cfg["use_bias"]:
            conv.bias.data = weight(weights, layer, "bias")
        act = activation(cfg["activation"])
        return nn.Sequential(conv, act) if act is not None else conv
    if kind == "Conv2DTranspose":
        kernel, strides = cfg["kernel_size"], cfg["strides"]
        if list(kernel) != list(strides):
            raise Unsupported(f"layer {layer['name']}: transposed conv with kernel {kernel} != strides {strides}")
        k = weight(weights, layer, "kernel")  # [kh, kw, out, in]
        conv = nn.ConvTranspose2d(k.shape[3], k.shape[2], tuple(kernel), tuple(strides), bias=cfg["use_bias"])
        conv.weight.data = k.permute(3, 2, 0, 1).contiguous()  # [in, out, kh, kw]
        if cfg["use_bias"]:
            conv.bias.data = weight(weights, layer, "bias")
        act = activation(cfg["activation"])
        return nn.Sequential(conv, act) if act is not None else conv
    if kind == "BatchNormalization":
        if cfg["axis"] not in (-1, 3, [3], [-1]):
            raise Unsupported(f"layer {layer['name']}: BatchNorm axis {cfg['axis']}")
        mean = weight(weights, layer, "moving_mean")
        bn = nn.BatchNorm2d(mean.shape[0], eps=cfg["epsilon"])
        bn.running_mean.data = mean
        bn.running_var.data = weight(weights, layer, "moving_variance")
        if cfg.get("scale", True):
            bn.weight.data = weight(weights, layer, "gamma")
        if cfg.get("center", True):
            bn.bias.data = weight(weights, layer, "beta")
        return bn
    if kind == "Activation":
        return activation(cfg["activation"]) or nn.Identity()
    if kind == "MaxPooling2D":
        if cfg["padding"] != "valid":
            raise Unsupported(f"layer {layer['name']}: max-pool padding {cfg['padding']}")
        return nn.MaxPool2d(tuple(cfg["pool_size"]), tuple(cfg["strides"]))
    if kind == "Dropout":
        return nn.Identity()
    raise Unsupported(f"layer {layer['name']}: class {kind}")


class LayersModel(nn.Module):
    """A tfjs functional model's layer graph, run in its (topological) layer order."""

    def __init__(self, topology, weights):
        super().__init__()
        config = topology["config"]
        self.steps = []  # (name, module key or None, input names, concat) in order
        self.layers = nn.ModuleDict()
        for layer in config["layers"]:
            name, kind = layer["name"], layer["class_name"]
            inputs = [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if kind == "InputLayer":
                self.input_name = name
                continue
            if kind == "Concatenate":
                if layer["config"]["axis"] not in (-1, 3):
                    raise Unsupported(f"layer {name}: concat axis {layer['config']['axis']}")
                self.steps.append((name, None, inputs))
                continue
            if len(inputs) != 1:
                raise Unsupported(f"layer {name}: {len(inputs)} inputs")
            self.layers[name] = build_layer(layer, weights)
            self.steps.append((name, name, inputs))
        self.output_name = config["output_layers"][0][0]

    def forward(self, x):
        values = {self.input_name: x}
        for name, module, inputs in self.steps:
            if module is None:
                values[name] = torch.cat([values[i] for i in inputs], dim=1)
            else:
                values[name] = self.layers[module](values[inputs[0]])
        return values[self.output_name]


def variants(model, example):
    out = {"eager": model}
    # A copy: Module.to() converts in place, and the eager variant must keep its contiguous NCHW weights.
    out["eager_channels_last"] = LayersModelChannelsLast(copy.deepcopy(model))
    try:
        traced = torch.jit.trace(model, example)
        out["torchscript_frozen"] = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    except Exception as e:  # noqa: BLE001 - report, time the others
        print(f"TorchScript freeze failed: {e}", file=sys.stderr)
    return out


class LayersModelChannelsLast(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)

    def forward(self, x):
        return self.model(x.contiguous(memory_format=torch.channels_last))


def time_variant(run, x, images, batch):
    for _ in range(2):  # warm-up (first runs allocate and, for TorchScript, optimise)
        run(x)
    batches = max(1, -(-images // batch))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        run(x)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = batches * batch
    return {"imgPerSec": round(n / wall, 2), "msPerBatch": round(1000 * wall / batches, 2),
            "cpuMsPerImage": round(1000 * cpu / n, 2)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model_dir")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--images", type=int, required=True)
    p.add_argument("--threads", default="1")
    p.add_argument("--check-input")
    p.add_argument("--check-output")
    a = p.parse_args()
    manifest = json.load(open(os.path.join(a.model_dir, "model.json")))
    topology = manifest["modelTopology"]
    topology = topology.get("model_config", topology)
    model = LayersModel(topology, read_weights(a.model_dir, manifest["weightsManifest"])).eval()
    result = {"torch": torch.__version__}
    with torch.inference_mode():
        if a.check_input:
            x = np.fromfile(a.check_input, dtype=np.float32).reshape(-1, a.size, a.size, 3)
            y = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).permute(0, 2, 3, 1).numpy()
            want = np.fromfile(a.check_output, dtype=np.float32).reshape(y.shape)
            result["maxAbsDiffVsOnnx"] = float(np.abs(y - want).max())
        x = torch.randn(a.batch, 3, a.size, a.size, generator=torch.Generator().manual_seed(1))
        timings = {}
        runs = variants(model, x)  # built once: the thread count applies when they run
        for threads in [int(t) for t in a.threads.split(",")]:
            torch.set_num_threads(threads)
            for name, run in runs.items():
                timings[f"{name}@{threads}"] = time_variant(run, x, a.images, a.batch)
                print(f"pytorch {name}, {threads} threads: {timings[f'{name}@{threads}']}", file=sys.stderr)
            best = max((v["imgPerSec"], k) for k, v in timings.items() if k.endswith(f"@{threads}"))
            result[f"bestThreads{threads}"] = {"imgPerSec": best[0], "variant": best[1].split("@")[0]}
        result["timings"] = timings
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Unsupported as e:
        print(json.dumps({"error": f"cannot rebuild the network in PyTorch: {e}"}))
        sys.exit(2)
