# The image the Supervisely agent runs for this plugin's train and inference tasks (spec H.1): the agent mounts
# the task folder at /sly_task_data and starts `sh -c "python -u /workdir/src/train.py"` (or inference.py); those
# launchers exec node on the compiled entry points in /workdir/dist.
#
# Build arguments:
#   VARIANT=gpu (default): @tensorflow/tfjs-node-gpu, i.e. libtensorflow 2.9 for CUDA 11 + cuDNN 8.
#   VARIANT=cpu: the same image with @tensorflow/tfjs-node (libtensorflow for the CPU) in its place.
#   CUDA_IMAGE, NODE_IMAGE: the two base images, pinned by digest (see below).
#   BACKEND=native (default): the build fails unless the native TensorFlow backend (the variant's tfjs-node
#     package) loads and computes. BACKEND=best: the best backend present passes, native or else wasm (where the
#     libtensorflow download cannot work); `sly-nn check-runtime` prints which one in the build log, both stages.
#   NODE_EXTRA_CA_CERTS: a CA bundle for npm behind a TLS-intercepting proxy, a path inside the build containers;
#     the builder mounts the file there (`podman build -v HOST_FILE:PATH:ro`), so no layer holds it. Empty: none.
# The labels the web UI reads are added by plugin/build.sh, which prints the full `docker build` command.
# The build needs network access to the npm registry and to storage.googleapis.com, where the tfjs-node
# install script downloads libtensorflow (TFJS_NODE_BASE_URI / TFJS_NODE_CDN_STORAGE point it at a mirror).

# CUDA 11.8 + cuDNN 8: what libtensorflow 2.9 inside tfjs-node-gpu 4.22 loads (libcudart.so.11.0, libcudnn.so.8);
# with CUDA 12 it silently runs on the CPU. The 11.2 tags are gone from Docker Hub; 11.8 has the same sonames.
# Build and runtime stages share this base, so a native addon compiled in the first runs in the second (same glibc).
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04@sha256:85fb7ac694079fff1061a0140fd5b5a641997880e12112d92589c3bbb1e8b7ca
# Node 20 and its npm, copied out of the official image. Its node binary is the nodejs.org build (glibc >= 2.28),
# so it runs on Ubuntu 22.04 (glibc 2.35) although the image itself is Debian 12.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
ARG VARIANT=gpu
ARG BACKEND=native

FROM ${NODE_IMAGE} AS node

# One stage per variant, so that `FROM base-${VARIANT}` picks the native tfjs package without shell logic.
FROM ${CUDA_IMAGE} AS base-gpu
ENV TFJS_NODE_PACKAGE=@tensorflow/tfjs-node-gpu

FROM ${CUDA_IMAGE} AS base-cpu
ENV TFJS_NODE_PACKAGE=@tensorflow/tfjs-node

# ---- build: compile the TypeScript, then install the production dependencies with their native parts ----
FROM base-${VARIANT} AS build
ARG DEBIAN_FRONTEND=noninteractive
ARG BACKEND
# An ARG is in the environment of RUN commands (node reads it) and in no layer of the runtime image.
ARG NODE_EXTRA_CA_CERTS=
# python3, make, g++: node-gyp compiles the tfjs-node addon when no prebuilt one can be downloaded.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
COPY --from=node /usr/local/include/node /usr/local/include/node
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version
# node-gyp compiles against the headers copied above instead of downloading them.
ENV npm_config_nodedir=/usr/local
# Same path as in the final stage: nothing built here has to be relocated.
WORKDIR /workdir
# .npmrc sets onnxruntime-node-install=skip: its install script would download onnxruntime's CUDA provider,
# which is built for CUDA 12 + cuDNN 9 and cannot load on this CUDA 11.8 base; its CPU engine is inside the npm
# package. To use that provider, build on a CUDA 12 + cuDNN 9 base and run `npm ci` with
# ONNXRUNTIME_NODE_INSTALL=cuda12 (and delete the .npmrc line); tfjs-node-gpu would then fall back to the CPU.
# The variable says the same as .npmrc, and outranks it; npm warns that a future npm will stop passing unknown
# .npmrc keys to install scripts.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# VARIANT=cpu: declare tfjs-node, at tfjs-node-gpu's version, in place of tfjs-node-gpu, and update the lockfile.
RUN if [ "$TFJS_NODE_PACKAGE" != "@tensorflow/tfjs-node-gpu" ]; then \
        version="$(node -p "require('./package.json').optionalDependencies['@tensorflow/tfjs-node-gpu']")" \
        && npm pkg delete "optionalDependencies.@tensorflow/tfjs-node-gpu" \
        && npm pkg set "optionalDependencies.$TFJS_NODE_PACKAGE=$version" \
        && npm install --package-lock-only --ignore-scripts --no-audit --no-fund; \
    fi
# Every dependency, dev ones included, to compile. No install scripts: tsc needs no native code, and the
# production install below runs them (one libtensorflow download instead of two).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugin ./plugin
RUN npm run build
# Production dependencies only, install scripts on. Not --omit=optional: sharp's platform binaries and the
# native tfjs package are optional dependencies. No npm cache left behind (this stage is not shipped, but it
# keeps the build's disk use down).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# What Node never loads: source maps, onnxruntime's engines for other platforms, the tfjs browser bundles.
RUN sh plugin/prune.sh
# A failed optional dependency is silent: fail the build here unless the backend BACKEND asks for loads and
# computes, and sharp and onnxruntime-node load and run (on what prune.sh left).
RUN node dist/src/cli/main.js check-runtime --backend "$BACKEND"

# ---- runtime: what the agent starts ----
FROM base-${VARIANT} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
ARG BACKEND
# python + python-is-python3: the agent runs `python -u /workdir/src/<entry>.py`.
# tini: an init that forwards signals to node and reaps zombies (node as PID 1 ignores SIGTERM).
# /bin/sh -> bash: bash runs the agent's `sh -c "python -u ..."` by exec (dash forks and stays PID 1, where it
# ignores SIGTERM), so the launcher becomes PID 1 and can exec tini -> node.
# ffmpeg: ffmpeg and ffprobe decode and encode videos for mask tracking (src/video/). Ubuntu 22.04 ships 4.4,
# which src/video/ffmpeg.ts allows for (-vsync where 5.1 has -fps_mode).
# dpkg leaves out what nothing here reads: documentation (licences kept), manuals, translations, and Mesa's
# OpenGL drivers with the LLVM and Z3 they link (about 160 MB), which libGL loads only to open a GL context: ffmpeg
# pulls them in through SDL output devices and never opens one to read or write a video file.
# apt-get clean: a base without Debian's docker-clean hook (a debootstrap one) would keep every .deb.
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
        'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/locale/*' \
        'path-exclude=/usr/lib/*-linux-gnu/dri/*' 'path-exclude=/usr/lib/*-linux-gnu/libLLVM*' \
        'path-exclude=/usr/lib/*-linux-gnu/libz3.so*' > /etc/dpkg/dpkg.cfg.d/slim-image \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3 python-is-python3 tini ffmpeg \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf bash /usr/bin/sh \
    && if ldd /usr/bin/ffmpeg /usr/bin/ffprobe | grep 'not found'; then exit 1; fi
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV LANG=C.UTF-8 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    CUDA_CACHE_PATH=/var/cache/cuda-jit \
    CUDA_CACHE_MAXSIZE=4294967296
# libtensorflow 2.9 has no native kernels for Ampere and newer GPUs: CUDA JIT-compiles them at start (minutes).
# The cache above (4 GiB, CUDA's maximum; the default 256 MiB does not hold TensorFlow's kernels) keeps them;
# to keep them across tasks, mount a host folder there or commit a container that has run once on the GPU.
WORKDIR /workdir
COPY --from=build /workdir/package.json ./package.json
COPY --from=build /workdir/node_modules ./node_modules
COPY --from=build /workdir/dist ./dist
COPY src/sly_launch.py src/train.py src/inference.py ./src/
# The model server's page (`sly-nn serve`, found from dist/src/serve by walking up to web/).
COPY web ./web
# The same check in the image that will run: its libraries, not the build stage's.
RUN mkdir -p "$CUDA_CACHE_PATH" \
    && printf '#!/bin/sh\nexec node /workdir/dist/src/cli/main.js "$@"\n' > /usr/local/bin/sly-nn \
    && chmod +x /usr/local/bin/sly-nn \
    && sly-nn check-runtime --backend "$BACKEND"
WORKDIR /workdir/src
# Serve mode: docker run -p 8000:8000 -v /models:/models IMAGE sly-nn serve --checkpoint /models/seg --port 8000
EXPOSE 8000
# The agent overrides the entrypoint; this one serves `docker run` by hand.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-u", "/workdir/src/train.py"]
