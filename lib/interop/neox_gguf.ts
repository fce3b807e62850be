/**
 * Writing llama.cpp's `gptneox` GGUF metadata: the hyper-parameter keys
 * (read back by lib/tensor/gguf_neox.ts) and a byte vocabulary — a
 * gpt2-type tokenizer with no merges whose 256 tokens are GPT-2's
 * byte-to-unicode characters in byte order, so token id = byte value.
 */
import { InputError } from "../errors.ts";
import type { NeoxConfig } from "../model/neox.ts";
import type { GgufValue } from "./gguf_write.ts";

/** GPT-2's bytes_to_unicode: the printable character standing for each byte. */
export function gpt2ByteChars(): string[] {
  const bs: number[] = [];
  for (let c = 0x21; c <= 0x7e; c++) bs.push(c);
  for (let c = 0xa1; c <= 0xac; c++) bs.push(c);
  for (let c = 0xae; c <= 0xff; c++) bs.push(c);
  const chars = new Array<string>(256);
  for (const b of bs) chars[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCodePoint(256 + n++);
  return chars;
}

/** llama.cpp `gptneox` hyper-parameters and the byte vocabulary for a NeoX config. */
export function neoxGgufMetadata(c: NeoxConfig, name: string): Record<string, GgufValue> {
  if (c.vocab_size !== 256) {
    throw new InputError(
      `GGUF export writes a byte vocabulary (256 tokens); this model's vocab_size is ${c.vocab_size}`,
    );
  }
  const headDim = c.hidden_size / c.num_attention_heads;
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  return {
    "general.architecture": { type: "string", value: "gptneox" },
    "general.name": { type: "string", value: name },
    "gptneox.context_length": u32(c.max_position_embeddings),
    "gptneox.embedding_length": u32(c.hidden_size),
    "gptneox.block_count": u32(c.num_hidden_layers),
    "gptneox.feed_forward_length": u32(c.intermediate_size),
    "gptneox.attention.head_count": u32(c.num_attention_heads),
    "gptneox.attention.head_count_kv": u32(c.num_attention_heads),
    "gptneox.rope.dimension_count": u32(Math.round(c.rotary_pct * headDim)),
    "gptneox.rope.freq_base": { type: "f32", value: c.rotary_emb_base },
    "gptneox.use_parallel_residual": { type: "bool", value: c.use_parallel_residual },
    "gptneox.attention.layer_norm_epsilon": { type: "f32", value: c.layer_norm_eps },
    "gptneox.vocab_size": u32(c.vocab_size),
    "tokenizer.ggml.model": { type: "string", value: "gpt2" },
    "tokenizer.ggml.pre": { type: "string", value: "default" },
    "tokenizer.ggml.tokens": { type: "string[]", value: gpt2ByteChars() },
    "tokenizer.ggml.token_type": { type: "i32[]", value: new Array(256).fill(1) },
    "tokenizer.ggml.merges": { type: "string[]", value: [] },
    "tokenizer.ggml.bos_token_id": u32(0),
    "tokenizer.ggml.eos_token_id": u32(0),
    "tokenizer.ggml.add_bos_token": { type: "bool", value: false },
  };
}
