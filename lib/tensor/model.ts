/**
 * A model source: a folder (config.json + *.safetensors, or a sharded
 * model.safetensors.index.json) or a single .safetensors / .gguf file.
 * Tensors are listed from headers and read one at a time.
 */
import { createHash } from "node:crypto";
import { InputError } from "../errors.ts";
import { readGgufHeader } from "./gguf.ts";
import { ggufToHfName, inverseOrder, isQkv, neoxConfigFromGguf, permuteRows, qkvRowOrder } from "./gguf_neox.ts";
import { readSafetensorsHeader, readTensorData } from "./safetensors.ts";
import type { Tensor, TensorInfo } from "./types.ts";

export interface ModelSource {
  path: string;
  format: "safetensors" | "gguf";
  files: string[];
  /** config.json of a folder model, or GGUF metadata; {} when absent. */
  config: Record<string, unknown>;
  tensors: TensorInfo[];
  read(name: string): Promise<Tensor>;
}

async function statOrFail(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch {
    throw new InputError(
      `${path}: model not found (give a folder with config.json + *.safetensors, or a .safetensors/.gguf file)`,
    );
  }
}

/** Open a model folder or file and list its tensors. */
export async function openModel(path: string): Promise<ModelSource> {
  const st = await statOrFail(path);
  if (st.isDirectory) return await openFolder(path);
  if (path.endsWith(".gguf")) {
    const h = await readGgufHeader(path);
    if (h.metadata["general.architecture"] === "gptneox") return gptneoxView(path, h.metadata, h.tensors);
    return makeSource(path, "gguf", [path], h.metadata, h.tensors);
  }
  if (path.endsWith(".safetensors")) {
    const h = await readSafetensorsHeader(path);
    return makeSource(path, "safetensors", [path], {}, h.tensors);
  }
  throw new InputError(`${path}: unknown model format (expected a folder, .safetensors or .gguf)`);
}

async function openFolder(dir: string): Promise<ModelSource> {
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new InputError(`${dir}/config.json: not valid JSON: ${(e as Error).message}`);
    }
  }
  let files: string[];
  let weightMap: Record<string, string> | null = null;
  const index = `${dir}/model.safetensors.index.json`;
  try {
    const idx = JSON.parse(await Deno.readTextFile(index)) as { weight_map?: Record<string, string> };
    if (!idx.weight_map || typeof idx.weight_map !== "object") throw new InputError(`${index}: no weight_map`);
    weightMap = idx.weight_map;
    for (const [name, f] of Object.entries(weightMap)) {
      if (typeof f !== "string" || f === "" || f.startsWith("/") || f.split(/[\\/]/).includes("..")) {
        throw new InputError(`${index}: tensor ${name} maps to ${JSON.stringify(f)}, not a file inside ${dir}`);
      }
    }
    files = [...new Set(Object.values(weightMap))].sort().map((f) => `${dir}/${f}`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    if (!(e instanceof Deno.errors.NotFound)) throw new InputError(`${index}: not valid JSON: ${(e as Error).message}`);
    files = [];
    for await (const ent of Deno.readDir(dir)) {
      if (ent.isFile && ent.name.endsWith(".safetensors")) files.push(`${dir}/${ent.name}`);
    }
    files.sort();
  }
  if (!files.length) {
    const ggufs: string[] = [];
    for await (const ent of Deno.readDir(dir)) if (ent.name.endsWith(".gguf")) ggufs.push(`${dir}/${ent.name}`);
    if (ggufs.length === 1) return { ...(await openModel(ggufs[0])), path: dir };
    throw new InputError(`${dir}: no *.safetensors (or single .gguf) file in the model folder`);
  }
  const tensors: TensorInfo[] = [];
  for (const f of files) tensors.push(...(await readSafetensorsHeader(f)).tensors);
  if (weightMap) {
    const stored = new Set(tensors.map((t) => `${t.file}\0${t.name}`));
    for (const [name, f] of Object.entries(weightMap)) {
      if (!stored.has(`${dir}/${f}\0${name}`)) {
        throw new InputError(`${index}: tensor ${name} is not in its shard ${f}`);
      }
    }
  }
  return makeSource(dir, "safetensors", files, config, tensors);
}

/**
 * A llama.cpp `gptneox` GGUF read as the GPT-NeoX model it came from: HF
 * tensor names, fused-qkv rows back in HF's per-head order, and a HF config
 * built from the gptneox.* keys — so sweep, pack and eval see the same model
 * whichever format it arrived in.
 */
function gptneoxView(path: string, metadata: Record<string, unknown>, tensors: TensorInfo[]): ModelSource {
  const config = neoxConfigFromGguf(metadata, path);
  const heads = config.num_attention_heads as number;
  const headDim = (config.hidden_size as number) / heads;
  const renamed = tensors.map((t) => ({ ...t, name: ggufToHfName(t.name) ?? t.name }));
  const src = makeSource(path, "gguf", [path], config, renamed);
  return {
    ...src,
    async read(name: string): Promise<Tensor> {
      const t = await src.read(name);
      if (!isQkv(name)) return t;
      const cols = t.shape.length === 2 ? t.shape[1] : 1;
      if (t.shape[0] !== 3 * heads * headDim) {
        throw new InputError(`${path}: ${name} has ${t.shape[0]} rows, not 3 × ${heads} heads × ${headDim}`);
      }
      return { ...t, data: permuteRows(t.data, cols, inverseOrder(qkvRowOrder(heads, headDim))) };
    },
  };
}

function makeSource(
  path: string,
  format: ModelSource["format"],
  files: string[],
  config: Record<string, unknown>,
  tensors: TensorInfo[],
): ModelSource {
  const byName = new Map<string, TensorInfo>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new InputError(`${path}: tensor ${t.name} appears twice`);
    byName.set(t.name, t);
  }
  return {
    path,
    format,
    files,
    config,
    tensors,
    read(name: string): Promise<Tensor> {
      const info = byName.get(name);
      if (!info) throw new InputError(`${path}: no tensor named ${name}`);
      return readTensorData(info);
    },
  };
}

/** sha256 over the model's files (in listed order), streamed. */
export async function hashModelFiles(files: string[]): Promise<string> {
  const h = createHash("sha256");
  for (const f of files) {
    const file = await Deno.open(f);
    try {
      for await (const chunk of file.readable) h.update(chunk);
    } catch (e) {
      throw new InputError(`${f}: cannot read: ${(e as Error).message}`);
    }
  }
  return h.digest("hex");
}
