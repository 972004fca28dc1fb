#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into tests/fuzz/corpus/<target>/ (committed).

Run from anywhere:  python3 tests/fuzz/make_corpus.py
Standard library only. The seeds are small on purpose: valid inputs of each kind, plus a few
broken ones near the checks, for libFuzzer to mutate from.
"""
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors: the fuzz target's tiny model (n_layer 1, n_head 2, n_embd 4, block 4, V 8) ----
C, V, P = 4, 8, 4


def tiny_tensors(untied=False):
    shapes = [("wte.weight", [V, C]), ("wpe.weight", [P, C])]
    h = "h.0."
    shapes += [(h + "ln_1.weight", [C]), (h + "ln_1.bias", [C]),
               (h + "attn.c_attn.weight", [C, 3 * C]), (h + "attn.c_attn.bias", [3 * C]),
               (h + "attn.c_proj.weight", [C, C]), (h + "attn.c_proj.bias", [C]),
               (h + "ln_2.weight", [C]), (h + "ln_2.bias", [C]),
               (h + "mlp.c_fc.weight", [C, 4 * C]), (h + "mlp.c_fc.bias", [4 * C]),
               (h + "mlp.c_proj.weight", [4 * C, C]), (h + "mlp.c_proj.bias", [C]),
               ("ln_f.weight", [C]), ("ln_f.bias", [C])]
    if untied:
        shapes.append(("lm_head.weight", [V, C]))
    out = []
    k = 0
    for name, shape in shapes:
        n = math.prod(shape)
        vals = [((k + i) % 17 - 8) / 16.0 for i in range(n)]
        if "ln_" in name and name.endswith(".weight"):
            vals = [1.0] * n
        k += n
        out.append((name, shape, vals))
    return out


def encode_values(vals, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F64":
        return struct.pack("<%dd" % len(vals), *vals)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":
        return b"".join(struct.pack("<f", v)[2:] for v in vals)
    raise ValueError(dtype)


def safetensors(tensors, dtype="F32", metadata=None, prefix=""):
    header, data = {}, b""
    for t in tensors:
        name, shape, vals = t[:3]
        dt = t[3] if len(t) > 3 else dtype
        raw = t[4] if len(t) > 4 else encode_values(vals, dt)
        header[prefix + name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


t = tiny_tensors()
put("safetensors", "valid_f32", safetensors(t, metadata={"format": "pt"}))
put("safetensors", "valid_f16", safetensors(t, "F16"))
put("safetensors", "valid_bf16", safetensors(t, "BF16"))
put("safetensors", "valid_f64", safetensors(t, "F64"))
put("safetensors", "prefixed", safetensors(t, prefix="transformer."))
put("safetensors", "untied", safetensors(tiny_tensors(untied=True)))
tied_head = t + [("lm_head.weight", [V, C], t[0][2])]
put("safetensors", "tied_head_written", safetensors(tied_head))
buf = t + [("h.0.attn.bias", [1, 1, P, P], [1.0] * 16, "U8", bytes([1] * 16)),
           ("h.0.attn.masked_bias", [], [0.0], "F32")]
put("safetensors", "attention_buffers", safetensors(buf))
put("safetensors", "extra_i64", safetensors(t + [("step", [1], [0], "I64", struct.pack("<q", 7))]))
nan = [list(x) for x in t]
nan[2][2] = [float("nan")] + nan[2][2][1:]
put("safetensors", "nan_weight", safetensors(nan))
put("safetensors", "empty_header", safetensors([]))
good = safetensors(t)
put("safetensors", "truncated", good[:-5])
put("safetensors", "header_len_zero", struct.pack("<Q", 0) + good[8:])
put("safetensors", "header_len_huge", struct.pack("<Q", 2**64 - 9) + good[8:])
gap = safetensors([("a", [2], [1.0, 2.0])])
gap = gap.replace(b'"data_offsets":[0,8]', b'"data_offsets":[4,8]')
put("safetensors", "gap", gap)
overlap = safetensors([("a", [2], [1.0, 2.0]), ("b", [1], [3.0])])
overlap = overlap.replace(b'"data_offsets":[8,12]', b'"data_offsets":[4,8]')
put("safetensors", "overlap", overlap)

# ---- config.json ----
tiny = {"n_layer": 1, "n_head": 2, "n_embd": 4, "n_positions": 4, "vocab_size": 8}
put("config", "tiny", json.dumps(tiny))
gpt2 = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
        "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None,
        "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
        "summary_use_proj": True, "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "vocab_size": 50257, "n_inner": None, "scale_attn_weights": True, "tie_word_embeddings": True}
put("config", "gpt2", json.dumps(gpt2, indent=2))
put("config", "gpt3", json.dumps({"n_layer": 96, "n_head": 96, "n_embd": 12288, "n_ctx": 2048, "vocab_size": 50257}))
put("config", "overflow", json.dumps({"n_layer": 2**40, "n_head": 1, "n_embd": 2**31, "n_positions": 4, "vocab_size": 8}))
put("config", "negative", json.dumps(dict(tiny, n_embd=-4)))
put("config", "float", '{"n_layer": 1.5, "n_head": 2, "n_embd": 4, "n_positions": 4, "vocab_size": 8}')
put("config", "erf", json.dumps(dict(tiny, activation_function="gelu", tie_word_embeddings=False, layer_norm_epsilon=1e-6)))
put("config", "malformed", '{"n_layer": 1, "n_head": ')

# ---- vocab + merges (separated by a NUL byte): a small BPE in GPT-2's spelling ----
def byte_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


bs, cs = byte_alphabet()
spell = dict(zip(bs, cs))
vocab = {c: i for i, c in enumerate(cs)}
merges = []
for a, b in [(" ", "t"), ("h", "e"), (" t", "he"), ("i", "n"), (" ", "a"), ("e", "r"), ("o", "n"),
             ("a", "a"), ("aa", "aa"), ("aaaa", "aaaa"), (" ", " "), ("in", "g")]:
    sa = "".join(spell[x] for x in a.encode())
    sb = "".join(spell[x] for x in b.encode())
    merges.append(sa + " " + sb)
    vocab.setdefault(sa + sb, len(vocab))
vocab["<|endoftext|>"] = len(vocab)
merges_text = "#version: 0.2\n" + "\n".join(merges) + "\n"
put("bpe_files", "small", json.dumps(vocab, ensure_ascii=False) + "\0" + merges_text)
put("bpe_files", "small_crlf", json.dumps(vocab) + "\0" + merges_text.replace("\n", "\r\n"))
put("bpe_files", "bytes_only", json.dumps({c: i for i, c in enumerate(cs)}) + "\0")
put("bpe_files", "unknown_merge", json.dumps(vocab) + "\0" + "#version: 0.2\nx y\n")

# ---- text to encode ----
texts = {
    "english": "Hello world! It's a test, isn't it? We'll see: they're 2 good.\n",
    "korean": "토큰 ≠ 단어. 한국어 텍스트는 여러 토큰이 됩니다.",
    "cjk": "日本語のテキストと中文文本。",
    "emoji": "👍🏽 👨‍👩‍👧‍👦 🇰🇷 ok",
    "spaces": "a  b   c\t\td\n\n\ne \u3000f\u00a0g\u0085h",
    "code": "int main() {\n    return x->y[0] + 0x1F; // done\n}\n",
    "contractions": "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
    "digits": "123 4567 ٣٤٥ १२३ ① Ⅻ",
    "long_letters": "a" * 300,
    "long_spaces": " " * 200 + "x",
    "long_emoji": "🙂" * 60,
    "special": "a<|endoftext|>b <|endoftext|>",
    "combining": "e\u0301 n\u0303 \u0915\u093f",
}
for k, v in texts.items():
    put("encode", k, v)
put("encode", "invalid_utf8", b"\xff\xfe a\x80b \xed\xa0\x80 \xf4\x90\x80\x80 \xc3")

# ---- ids to decode (little-endian int32) ----
def ids(*xs):
    return struct.pack("<%di" % len(xs), *xs)


put("decode", "hello", ids(15496, 995))
put("decode", "korean", ids(169, 228, 254, 169, 223, 108))
put("decode", "last", ids(50256, 0, 50255))
put("decode", "past_end", ids(15496, 50257))
put("decode", "negative", ids(-1))
put("decode", "partial_utf8", ids(169))

# ---- forward / generate: B, T (int64), max_new, top_k, temperature, top_p, ids ----
def fwd(B, T, max_new, top_k, temp, top_p, *xs):
    return struct.pack("<qqBBBB", B, T, max_new, top_k, temp, top_p) + ids(*xs)


put("forward", "one", fwd(1, 3, 5, 0, 0, 255, 1, 2, 3))
put("forward", "batch", fwd(2, 4, 10, 5, 64, 200, *range(8)))
put("forward", "full_block", fwd(1, 24, 30, 0, 64, 255, *range(24)))
put("forward", "past_block", fwd(1, 25, 30, 0, 64, 255, *range(25)))
put("forward", "bad_id", fwd(1, 2, 3, 0, 0, 255, 5, 101))
put("forward", "empty", fwd(0, 0, 3, 0, 0, 255))
put("forward", "overflow", fwd(2**62, 4, 1, 0, 0, 255, 1, 2, 3, 4))

# ---- char_vocab.json (the character-level tokenizer) ----
put("char_vocab", "shakespeare", json.dumps({"type": "char", "vocab_size": 13,
                                             "chars": ["\n", " ", "!", "A", "a", "b", "z", "é", "토", "👍", 128, 200, 255]}))
put("char_vocab", "minimal", '{"type": "char", "chars": ["x"]}')
put("char_vocab", "duplicate", '{"type": "char", "chars": ["x", "x"]}')
put("char_vocab", "two_chars", '{"type": "char", "chars": ["ab"]}')
put("char_vocab", "size_mismatch", '{"type": "char", "vocab_size": 3, "chars": ["a"]}')

# ---- GGUF: small gpt2 files written here in Python (an independent writer) ----
def gguf_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, vtype, value, etype=None):
    out = gguf_string(key) + struct.pack("<I", vtype)
    fmt = {0: "B", 1: "b", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q"}
    if vtype == 8:
        return out + gguf_string(value)
    if vtype == 9:
        out += struct.pack("<IQ", etype, len(value))
        return out + b"".join(gguf_string(v) if etype == 8 else struct.pack("<" + fmt[etype], v) for v in value)
    return out + struct.pack("<" + fmt[vtype], value)


def q8_0(vals):
    out = b""
    for b in range(0, len(vals), 32):
        blk = vals[b:b + 32]
        amax = max(abs(v) for v in blk)
        d = amax / 127
        q = [0 if d == 0 else int(math.copysign(math.floor(abs(v / d) + 0.5), v)) for v in blk]
        out += struct.pack("<e", d) + struct.pack("<32b", *q)
    return out


def gguf_gpt2(C, V=8, P=4, qtype=0, alignment=32, extra_kv=()):
    """A 1-layer gpt2 GGUF of width C; 2-D weights (but position_embd) in qtype (0 = F32, 8 = Q8_0)."""
    names = [("token_embd.weight", [C, V]), ("position_embd.weight", [C, P])]
    for n, ne in [("attn_norm.weight", [C]), ("attn_norm.bias", [C]), ("attn_qkv.weight", [C, 3 * C]),
                  ("attn_qkv.bias", [3 * C]), ("attn_output.weight", [C, C]), ("attn_output.bias", [C]),
                  ("ffn_norm.weight", [C]), ("ffn_norm.bias", [C]), ("ffn_up.weight", [C, 4 * C]),
                  ("ffn_up.bias", [4 * C]), ("ffn_down.weight", [4 * C, C]), ("ffn_down.bias", [C])]:
        names.append(("blk.0." + n, ne))
    names += [("output_norm.weight", [C]), ("output_norm.bias", [C])]
    kvs = [gguf_kv("general.architecture", 8, "gpt2"), gguf_kv("gpt2.context_length", 4, P),
           gguf_kv("gpt2.embedding_length", 4, C), gguf_kv("gpt2.feed_forward_length", 4, 4 * C),
           gguf_kv("gpt2.block_count", 4, 1), gguf_kv("gpt2.attention.head_count", 4, 2),
           gguf_kv("gpt2.attention.layer_norm_epsilon", 6, 1e-5), gguf_kv("tokenizer.ggml.model", 8, "gpt2"),
           gguf_kv("tokenizer.ggml.tokens", 9, ["[PAD%d]" % i for i in range(V)], 8),
           gguf_kv("tokenizer.ggml.token_type", 9, [5] * V, 5), gguf_kv("tokenizer.ggml.merges", 9, [], 8)]
    kvs += list(extra_kv)
    if alignment != 32:
        kvs.append(gguf_kv("general.alignment", 4, alignment))
    infos, data = b"", b""
    for k, (name, ne) in enumerate(names):
        n = math.prod(ne)
        vals = [((k + i) % 17 - 8) / 16.0 for i in range(n)]
        if name.endswith("norm.weight"):
            vals = [1.0] * n
        typ = qtype if len(ne) == 2 and name != "position_embd.weight" else 0
        raw = q8_0(vals) if typ == 8 else struct.pack("<%df" % n, *vals)
        infos += gguf_string(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
        infos += struct.pack("<IQ", typ, len(data))
        data += raw + b"\0" * ((alignment - len(raw) % alignment) % alignment)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(names), len(kvs)) + b"".join(kvs) + infos
    head += b"\0" * ((alignment - len(head) % alignment) % alignment)
    return head + data


g4 = gguf_gpt2(4)
put("gguf", "f32_c4", g4)
put("gguf", "q8_0_c32", gguf_gpt2(32, qtype=8))
put("gguf", "align64", gguf_gpt2(4, alignment=64))
put("gguf", "truncated", g4[:-9])
put("gguf", "header_only", g4[:24])
put("gguf", "kv_count_huge", g4[:16] + struct.pack("<Q", 2**64 - 1) + g4[24:])
put("gguf", "extra_array", gguf_gpt2(4, extra_kv=[gguf_kv("x.scores", 9, [0.5, -1.0], 6), gguf_kv("x.flag", 7, 1)]))
put("gguf", "empty", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))


# ---- the recipe's JSONL files (sft, preferences, eval rows; the target reads each as all three) ----
put("jsonl", "sft", '{"prompt":"Q: What is 3 + 4?\\nA:","completion":" 7\\n"}\n'
                    '{"prompt":"Q: Where does Mina Park live?\\nA:","completion":" I don\'t know.\\n"}\n')
put("jsonl", "preferences", '{"prompt":"Q: What is 3 + 4?\\nA:","chosen":" 7\\n","rejected":" 8\\n"}\n')
put("jsonl", "eval", '{"prompt":"Q: What is 3 + 4?\\nA:","answer":"7"}\n'
                     '{"prompt":"Q: Where does Mina Park live?\\nA:","answer":"Busan","person":"Mina Park","mentions":3}\n')
put("jsonl", "all_fields", '{"prompt":"Q: a?\\nA:","completion":" b\\n","chosen":" b\\n","rejected":" c\\n",'
                           '"answer":"b","person":"P","mentions":0}\r\n\n')
put("jsonl", "bad_utf8", b'{"prompt":"x","completion":" \\u00e9\xff"}\n')
put("jsonl", "korean", '{"prompt":"토큰?","completion":" 토\\ud83d\\ude00"}\n')
put("jsonl", "malformed", '{"prompt":"x","completion":')
put("jsonl", "wrong_types", '{"prompt":1,"completion":[],"mentions":2.5,"person":null}\n')
