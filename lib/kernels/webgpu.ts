/**
 * WGSL GEMV kernels (kernels/wgsl/) on Deno's WebGPU: int8, ternary2 and
 * ternary_base3, the same weight formats as the C kernels (formats.ts) and the
 * same int8 per-token activations. On a CPU machine the adapter is Mesa's
 * llvmpipe (Debian mesa-vulkan-drivers): right for correctness, never a GPU
 * speed figure — every result carries the adapter's name.
 *
 * Work is queued, not run: `gemv()` records dispatches into one command
 * encoder and returns a promise; `flush()` submits everything once and reads
 * every output back with one map (a readback costs ~10 ms on llvmpipe).
 * A layer whose weights exceed the adapter's storage-binding limit (128 MiB on
 * llvmpipe) is split by rows into chunks, one binding and one dispatch each.
 */
import { InputError } from "../errors.ts";
import { BASE3_DECODE } from "./base3_code.ts";
import {
  int8Planes,
  type KernelName,
  type PreparedWeights,
  prepareWeights,
  quantizeActivations,
  ternary2Rows,
} from "./formats.ts";
import { type AsyncGemvKernel, checkGemvArgs } from "./gemv.ts";

export const WEBGPU_KERNELS = ["int8", "ternary2", "ternary_base3"] as const satisfies readonly KernelName[];
export type WebGpuKernelName = (typeof WEBGPU_KERNELS)[number];

const MAX_WORKGROUPS_X = 65535;

/** A layer's weights on the device, split into row chunks. */
export interface GpuWeights {
  kernel: WebGpuKernelName;
  rows: number;
  cols: number;
  cp: number;
  /** Per-row stride of the weight data (u32 words; bytes for base-3). */
  rowUnits: number;
  groups: number;
  chunks: { row0: number; rows: number; w: GPUBuffer; scale: GPUBuffer }[];
  /** Weight bytes one GEMV reads (payload + scales), as PreparedWeights.bytes. */
  bytes: number;
}

interface Pending {
  y: GPUBuffer;
  bytes: number;
  resolve: (y: Float32Array) => void;
  temp: GPUBuffer[];
}

export interface WebGpuOptions {
  /** Split weights into bindings of at most this many bytes (default: the adapter's limit). */
  maxBindingBytes?: number;
}

async function shaderSource(name: string): Promise<string> {
  const read = (f: string) => Deno.readTextFile(new URL(`../../kernels/wgsl/${f}.wgsl`, import.meta.url));
  if (name === "stream_sum") return await read(name);
  const prelude = name === "ternary_base3" ? base3DecodeWgsl() + "\n" : "";
  return prelude + (await read("common")) + "\n" + (await read(name));
}

/** The base-3 code's decode table as a WGSL constant: byte → its five codes, 2 bits each (code i at bit 2i). */
function base3DecodeWgsl(): string {
  const words = Array.from({ length: 256 }, (_, v) => {
    let word = 0;
    for (let i = 0; i < 5; i++) word |= BASE3_DECODE[5 * v + i] << (2 * i);
    return `${word}u`;
  });
  return `const BASE3_DECODE = array<u32, 256>(${words.join(", ")});`;
}

export class WebGpuRunner {
  readonly adapterName: string;
  readonly isFallbackAdapter: boolean;
  readonly maxBindingBytes: number;
  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pending: Pending[] = [];

  private constructor(readonly device: GPUDevice, info: GPUAdapterInfo, opts: WebGpuOptions) {
    this.adapterName = info.description || `${info.vendor} ${info.device}`.trim() || "unknown adapter";
    this.isFallbackAdapter = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
    const limit = device.limits.maxStorageBufferBindingSize;
    this.maxBindingBytes = Math.min(limit, opts.maxBindingBytes ?? limit);
  }

  /** A runner on the first WebGPU adapter, or null when there is none (no navigator.gpu, no driver). */
  static async open(opts: WebGpuOptions = {}): Promise<WebGpuRunner | null> {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) { // Mesa's window-system layer complains on stderr without one
      const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/subbit-runtime-${Deno.uid() ?? 0}`;
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      Deno.env.set("XDG_RUNTIME_DIR", dir);
    }
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return null;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const runner = new WebGpuRunner(device, adapter.info, opts);
    device.pushErrorScope("validation");
    // explicit layouts: "auto" would drop bindings a shader does not use (xsum in int8)
    const layout = (types: GPUBufferBindingType[]) =>
      device.createPipelineLayout({
        bindGroupLayouts: [device.createBindGroupLayout({
          entries: types.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
        })],
      });
    const gemvLayout = layout([...Array(5).fill("read-only-storage"), "storage", "uniform"]);
    const sumLayout = layout(["read-only-storage", "storage", "uniform"]);
    for (const k of [...WEBGPU_KERNELS, "stream_sum"]) {
      const module = device.createShaderModule({ code: await shaderSource(k), label: k });
      const pipeline = device.createComputePipeline({
        layout: k === "stream_sum" ? sumLayout : gemvLayout,
        compute: { module, entryPoint: "main" },
      });
      runner.pipelines.set(k, pipeline);
    }
    const err = await device.popErrorScope();
    if (err) throw new Error(`WebGPU shader setup failed on ${runner.adapterName}: ${err.message}`);
    return runner;
  }

  private buffer(data: ArrayBufferView, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
    const b = this.device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST });
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.length % 4 === 0) this.device.queue.writeBuffer(b, 0, bytes);
    else {
      const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(b, 0, padded);
    }
    return b;
  }

  /** Copy prepared weights (formats.ts) to the device, split by rows to fit the binding limit. */
  upload(p: PreparedWeights): GpuWeights {
    if (p.kernel !== "int8" && p.kernel !== "ternary2" && p.kernel !== "ternary_base3") {
      throw new InputError(`no WGSL kernel for '${p.kernel}'`);
    }
    const kernel: WebGpuKernelName = p.kernel;
    const rowBytes = p.kernel === "int8" ? p.cp : p.kernel === "ternary2" ? p.cp / 4 : p.bytesPerRow;
    const groups = p.kernel === "int8" ? p.cp / 64 : 1;
    let data: Uint8Array, scales: Float32Array;
    if (p.kernel === "int8") { // the WGSL int8 kernel reads codes and scales from two buffers
      const planes = int8Planes(p);
      data = new Uint8Array(planes.q.buffer);
      scales = planes.scale;
    } else { // the WGSL ternary kernels read rows whole: ternary2's panels laid out row by row
      data = p.kernel === "ternary2" ? ternary2Rows(p) : p.packed;
      scales = p.scale;
    }
    const perChunk = Math.floor(this.maxBindingBytes / Math.max(rowBytes, 4 * groups));
    if (perChunk < 1) {
      throw new InputError(`one row (${rowBytes} bytes) exceeds the binding limit ${this.maxBindingBytes}`);
    }
    const chunks: GpuWeights["chunks"] = [];
    for (let row0 = 0; row0 < p.rows; row0 += perChunk) {
      const rows = Math.min(perChunk, p.rows - row0);
      chunks.push({
        row0,
        rows,
        w: this.buffer(data.subarray(row0 * rowBytes, (row0 + rows) * rowBytes), GPUBufferUsage.STORAGE),
        scale: this.buffer(scales.subarray(row0 * groups, (row0 + rows) * groups), GPUBufferUsage.STORAGE),
      });
    }
    return {
      kernel,
      rows: p.rows,
      cols: p.cols,
      cp: p.cp,
      rowUnits: kernel === "ternary_base3" ? rowBytes : rowBytes / 4,
      groups,
      chunks,
      bytes: p.bytes,
    };
  }

  /** Free a layer's device buffers. */
  release(g: GpuWeights): void {
    for (const c of g.chunks) c.w.destroy(), c.scale.destroy();
  }

  private get enc(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  /** Record dispatches for one or more layers sharing activations; returns the output buffer. */
  private record(layers: GpuWeights[], x: Float32Array, batch: number, reps: number, temp: GPUBuffer[]): GPUBuffer {
    const g = layers[0];
    const a = quantizeActivations(x, batch, g.cols, g.cp);
    const xs = new Int8Array(a.xu.length), xsum = new Int32Array(batch);
    for (let i = 0; i < xs.length; i++) xs[i] = a.xu[i] - 128;
    for (let b = 0; b < batch; b++) for (let k = 0; k < g.cp; k++) xsum[b] += xs[b * g.cp + k];
    const xb = this.buffer(xs, GPUBufferUsage.STORAGE), sxb = this.buffer(a.sx, GPUBufferUsage.STORAGE);
    const xsumb = this.buffer(xsum, GPUBufferUsage.STORAGE);
    const y = this.device.createBuffer({
      size: 4 * batch * g.rows,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    temp.push(xb, sxb, xsumb, y);
    const passes: { pipeline: GPUComputePipeline; bind: GPUBindGroup; rows: number }[] = [];
    for (const layer of layers) {
      const pipeline = this.pipelines.get(layer.kernel)!;
      for (const c of layer.chunks) {
        const params = new Uint32Array([
          c.row0,
          c.rows,
          layer.rows,
          batch,
          layer.cp / 4,
          layer.rowUnits,
          layer.groups,
          0,
        ]);
        const pb = this.buffer(params, GPUBufferUsage.UNIFORM);
        temp.push(pb);
        const entries = [c.w, c.scale, xb, sxb, xsumb, y, pb].map((buffer, binding) => ({
          binding,
          resource: { buffer },
        }));
        passes.push({
          pipeline,
          bind: this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }),
          rows: c.rows,
        });
      }
    }
    const pass = this.enc.beginComputePass();
    for (let rep = 0; rep < reps; rep++) {
      for (const p of passes) {
        pass.setPipeline(p.pipeline);
        pass.setBindGroup(0, p.bind);
        pass.dispatchWorkgroups(Math.min(p.rows, MAX_WORKGROUPS_X), Math.ceil(p.rows / MAX_WORKGROUPS_X));
      }
    }
    pass.end();
    return y;
  }

  /** Queue Y[batch × rows] = X · Ŵᵀ; the promise resolves at the next flush(). */
  gemv(g: GpuWeights, x: Float32Array, batch: number): Promise<Float32Array> {
    if (!(batch >= 1 && batch <= 16)) throw new InputError(`batch ${batch} outside 1..16`);
    if (x.length !== batch * g.cols) throw new InputError(`x has ${x.length} values, expected ${batch} x ${g.cols}`);
    const temp: GPUBuffer[] = [];
    const y = this.record([g], x, batch, 1, temp);
    return new Promise((resolve) => this.pending.push({ y, bytes: 4 * batch * g.rows, resolve, temp }));
  }

  /** Submit everything queued and read all outputs back with one map. */
  async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    const enc = this.enc;
    this.encoder = null;
    const total = pending.reduce((s, p) => s + p.bytes, 0);
    const staging = total > 0
      ? this.device.createBuffer({ size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
      : null;
    let off = 0;
    for (const p of pending) enc.copyBufferToBuffer(p.y, 0, staging!, off, p.bytes), off += p.bytes;
    this.device.pushErrorScope("validation");
    this.device.queue.submit([enc.finish()]);
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`WebGPU GEMV failed: ${err.message}`);
    if (!staging) return await this.device.queue.onSubmittedWorkDone();
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    off = 0;
    for (const p of pending) {
      p.resolve(all.slice(off / 4, (off + p.bytes) / 4));
      off += p.bytes;
      for (const b of p.temp) b.destroy();
    }
  }

  /**
   * Wall time (ms) of one submit running `reps` passes over every copy of a layer
   * (copies rotate so the weights are not cache-resident), divided per GEMV.
   * Includes dispatch overhead; no readback is timed.
   */
  async timeGemv(copies: GpuWeights[], x: Float32Array, batch: number, reps: number): Promise<number> {
    const temp: GPUBuffer[] = [];
    this.record(copies, x, batch, 1, temp); // warm-up
    this.device.queue.submit([this.enc.finish()]);
    this.encoder = null;
    await this.device.queue.onSubmittedWorkDone();
    this.record(copies, x, batch, reps, temp);
    const cb = this.enc.finish();
    this.encoder = null;
    const t0 = performance.now();
    this.device.queue.submit([cb]);
    await this.device.queue.onSubmittedWorkDone();
    const ms = (performance.now() - t0) / (reps * copies.length);
    for (const b of temp) b.destroy();
    return ms;
  }

  /** Read bandwidth (GB/s) of the adapter: a vec4 streaming sum over `bytes`, in bindings of ≤ the limit. */
  async measureBandwidth(bytes = 2 ** 30, reps = 3): Promise<number> {
    const chunk = Math.min(this.maxBindingBytes, this.device.limits.maxBufferSize) & ~15;
    const n = Math.max(1, Math.round(bytes / chunk));
    const pipeline = this.pipelines.get("stream_sum")!;
    const groups = 16384; // many invocations: llvmpipe spreads workgroups over its threads, a GPU over its SMs
    const partial = this.device.createBuffer({ size: 4 * groups * 64, usage: GPUBufferUsage.STORAGE });
    const size = this.buffer(new Uint32Array([chunk / 16]), GPUBufferUsage.UNIFORM);
    const bufs: GPUBuffer[] = [], binds: GPUBindGroup[] = [];
    for (let i = 0; i < n; i++) {
      const a = this.device.createBuffer({ size: chunk, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      this.enc.clearBuffer(a); // touch every page before timing
      bufs.push(a);
      const entries = [a, partial, size].map((buffer, binding) => ({ binding, resource: { buffer } }));
      binds.push(this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    }
    let best = Infinity;
    for (let rep = 0; rep <= reps; rep++) {
      const pass = this.enc.beginComputePass();
      pass.setPipeline(pipeline);
      for (const b of binds) pass.setBindGroup(0, b), pass.dispatchWorkgroups(groups);
      pass.end();
      const cb = this.enc.finish();
      this.encoder = null;
      const t0 = performance.now();
      this.device.queue.submit([cb]);
      await this.device.queue.onSubmittedWorkDone();
      if (rep > 0) best = Math.min(best, performance.now() - t0); // rep 0 warms up
    }
    for (const b of [...bufs, partial, size]) b.destroy();
    return (n * chunk) / best / 1e6;
  }

  destroy(): void {
    this.device.destroy();
  }
}

/** A WGSL kernel behind the GemvKernel contract (one submit and readback per run). */
export function webgpuGemv(name: WebGpuKernelName, gpu: WebGpuRunner): AsyncGemvKernel {
  const uploaded = new WeakMap<PreparedWeights, GpuWeights>();
  return {
    name,
    backend: "webgpu",
    prepare: (codes, options) => {
      const p = prepareWeights(name, codes, options);
      uploaded.set(p, gpu.upload(p));
      return p;
    },
    async run(p, x, y, batch) {
      checkGemvArgs(p, x, y, batch);
      let g = uploaded.get(p);
      if (!g) uploaded.set(p, g = gpu.upload(p));
      const out = gpu.gemv(g, x, batch);
      await gpu.flush();
      y.set(await out);
    },
  };
}
