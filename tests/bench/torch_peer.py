#!/usr/bin/python3
"""PyTorch peer for minigpt's benchmark programs.

The C++ benchmark programs run this script in the same run, on the same shapes and threads,
and print their own figures beside its results. It prints exactly one JSON line on stdout;
progress and warnings go to stderr.

    /usr/bin/python3 tests/bench/torch_peer.py prefill --threads 2 --T 256 --reps 5
    /usr/bin/python3 tests/bench/torch_peer.py decode  --threads 2 --prompt-len 64 --new-tokens 32
    /usr/bin/python3 tests/bench/torch_peer.py train   --threads 1 --config baby --iters 30
    /usr/bin/python3 tests/bench/torch_peer.py gemm    --threads 2 --n 2048

Threads: torch's own kernels use OpenMP, but its float32 GEMMs (Debian's python3-torch) run in
OpenBLAS's separate thread pool. Both pools size themselves when torch is imported, from
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS, so the caller should set both to N in the environment
before python starts, and pass --threads N (torch.set_num_threads). If they are unset, this
script sets them to N before importing torch; if they disagree with --threads, it warns. The
values in effect are reported in the JSON line ("env", and "env_set_here" for those this script
set itself).

OpenBLAS kernels: Debian's OpenBLAS 0.3.21 does not recognise recent CPUs (e.g. family 6 model
207) and falls back to its generic SSE3 "Prescott" kernels, several times slower. When that
happens and OPENBLAS_CORETYPE is unset, the script restarts itself once with OPENBLAS_CORETYPE
set from the CPU flags (SkylakeX with AVX-512, Haswell with AVX2), so that PyTorch is measured
at its best; --openblas-native keeps the fallback. "openblas_core" in the JSON line names the
kernel set in effect.

The model is nanoGPT's (Karpathy's model.py, the code path torch 1.13 takes: explicit masked
attention, no flash attention), float32, random init, with GPT-2's tanh GELU and a tied LM head.
Needs only Debian's python3-torch; no transformers.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

# ----------------------------------------------------------------------------------------------
# Command line. Parsed before torch is imported, so that the thread pools can still be sized.

SHAPES = {  # --config for train; prefill and decode take the gpt2 shape unless told otherwise
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block=64, vocab=65, B=12, T=64),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, block=1024, vocab=50257, B=4, T=64),
}


def parse_args():
    parser = argparse.ArgumentParser(
        description="PyTorch peer for minigpt's benchmarks: prints one JSON line of results.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Set OMP_NUM_THREADS=N and OPENBLAS_NUM_THREADS=N in the environment before python "
               "starts (torch's GEMMs run in OpenBLAS's own pool, sized at import), and pass "
               "--threads N. Unset variables are set to N here before torch is imported. "
               "OpenBLAS 0.3.21 falls back to slow generic kernels on CPUs it does not know; "
               "the script then restarts itself with OPENBLAS_CORETYPE set from the CPU flags "
               "(see --openblas-native). The JSON line reports the kernel set in effect.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, model=True):
        p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads(N) (default 1)")
        p.add_argument("--seed", type=int, default=1337, help="torch seed for weights and data")
        p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
        p.add_argument("--openblas-native", action="store_true",
                       help="keep OpenBLAS's own kernel choice even when it falls back to its generic "
                            "Prescott kernels (by default the script then restarts itself with "
                            "OPENBLAS_CORETYPE=SkylakeX or Haswell, from the CPU flags)")
        if model:
            g = SHAPES["gpt2"]
            p.add_argument("--n-layer", type=int, default=g["n_layer"])
            p.add_argument("--n-head", type=int, default=g["n_head"])
            p.add_argument("--n-embd", type=int, default=g["n_embd"])
            p.add_argument("--vocab", type=int, default=g["vocab"])
            p.add_argument("--block", type=int, default=g["block"], help="context length (n_positions)")

    p = sub.add_parser("prefill", help="full forward of B=1, T tokens, all logits; ms and tokens/s")
    common(p)
    p.add_argument("--T", type=int, default=256)
    p.add_argument("--reps", type=int, default=5)

    p = sub.add_parser("decode", help="greedy generation: nanoGPT's cacheless loop and a KV-cached loop")
    common(p)
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--reps", type=int, default=1)

    p = sub.add_parser("train", help="forward + cross-entropy + backward + AdamW steps; ms per iteration")
    common(p, model=False)
    p.add_argument("--config", choices=sorted(SHAPES), default="baby",
                   help="baby: nanoGPT shakespeare_char CPU (4 layers, 4 heads, 128 dims, block 64, "
                        "batch 12, vocab 65); gpt2: the 124M shape, B=4, T=64, vocab 50257")
    p.add_argument("--B", type=int, default=None, help="batch size (default: the config's)")
    p.add_argument("--T", type=int, default=None, help="sequence length (default: the config's)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations (default 20)")
    p.add_argument("--grad-clip", type=float, default=1.0, help="nanoGPT's default 1.0; 0 disables")
    p.set_defaults(warmup=3)

    p = sub.add_parser("gemm", help="float32 n x n x n GEMM through torch (its BLAS); GFLOP/s")
    common(p, model=False)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--reps", type=int, default=5)
    return parser.parse_args()


args = parse_args()

# Size the thread pools before torch (and with it OpenMP and OpenBLAS) is loaded. What this
# script sets itself is remembered in TORCH_PEER_SET_HERE (it survives the restart below).
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SET_HERE = [v for v in os.environ.get("TORCH_PEER_SET_HERE", "").split(",") if v]
for v in ENV_VARS:
    if v not in os.environ:
        os.environ[v] = str(args.threads)
        SET_HERE.append(v)
    elif os.environ[v] != str(args.threads):
        print(f"torch_peer: warning: {v}={os.environ[v]} but --threads {args.threads}", file=sys.stderr)


def openblas_core():
    """The kernel set OpenBLAS chose (loading it now, with the current environment), or None
    when torch's BLAS is not OpenBLAS."""
    import ctypes
    for name in ("libblas.so.3", "libopenblas.so.0"):
        try:
            get = ctypes.CDLL(name).openblas_get_corename
        except (OSError, AttributeError):
            continue
        get.restype = ctypes.c_char_p
        return get().decode()
    return None


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# OpenBLAS 0.3.21 does not know recent CPUs (e.g. family 6 model 207) and falls back to its
# generic "Prescott" SSE3 kernels, 5-8x slower than its AVX-512 ones: PyTorch would then be an
# unfairly weak peer. Unless told otherwise, restart once with the best kernel set the CPU's
# flags allow (OPENBLAS_CORETYPE is read when OpenBLAS loads, so it cannot change in-process).
OPENBLAS_CORE = openblas_core()
if (OPENBLAS_CORE == "Prescott" and not args.openblas_native
        and "OPENBLAS_CORETYPE" not in os.environ):
    flags = cpu_flags()
    better = "SkylakeX" if "avx512f" in flags else "Haswell" if {"avx2", "fma"} <= flags else None
    if better:
        os.environ["OPENBLAS_CORETYPE"] = better
        os.environ["TORCH_PEER_SET_HERE"] = ",".join(SET_HERE + ["OPENBLAS_CORETYPE"])
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)

import torch                                  # noqa: E402  (after the environment is set)
import torch.nn as nn                         # noqa: E402
import torch.nn.functional as F               # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def log(*a):
    print("torch_peer:", *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# The model: nanoGPT's GPT, float32. Linear layers store (out, in); the LM head is tied.

class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def split_heads(self, x):                                    # (B, T, C) -> (B, H, T, hs)
        b, t, c = x.shape
        return x.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)

    def forward(self, x, cache=None, pos=0):
        """x (B, T, C) -> (B, T, C). With a cache (k, v), each (B, H, block, hs), the T new
        positions are written at pos.. and attend to every cached position up to their own."""
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        if cache is not None:
            cache[0][:, :, pos:pos + t] = k
            cache[1][:, :, pos:pos + t] = v
            k, v = cache[0][:, :, :pos + t], cache[1][:, :, :pos + t]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))   # (B, H, T, pos+T)
        att = att.masked_fill(self.bias[:, :, pos:pos + t, :pos + t] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)         # heads merged
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))     # GPT-2's GELU


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x, cache=None, pos=0):
        x = x + self.attn(self.ln_1(x), cache, pos)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, vocab, block):
        super().__init__()
        self.block, self.n_head = block, n_head
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head, block) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight                               # tied
        # nanoGPT's init: N(0, 0.02), zero biases, residual projections scaled down
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets=None, last_only=False, caches=None, pos=0):
        """idx (B, T) -> logits (B, T, V), or (B, 1, V) with last_only; with targets, also the
        mean cross-entropy. caches: one (k, v) pair per layer for KV-cached decoding."""
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + t, dtype=torch.long))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i], pos)
        x = self.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return self.lm_head(x[:, [-1], :] if last_only else x), None

    def new_caches(self, batch):
        hs = self.wte.weight.size(1) // self.n_head
        shape = (batch, self.n_head, self.block, hs)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.h]


def build_model(n_layer, n_head, n_embd, vocab, block):
    model = GPT(n_layer, n_head, n_embd, vocab, block)
    log(f"model: {n_layer} layers, {n_head} heads, {n_embd} dims, vocab {vocab}, block {block}; "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    return model


def model_from_args():
    return build_model(args.n_layer, args.n_head, args.n_embd, args.vocab, args.block)


def shape_of(a):
    return dict(n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd, vocab=a.vocab, block=a.block)


def timed(fn, reps, warmup):
    """Runs fn warmup times untimed, then reps times; returns the seconds of each timed run."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


# ----------------------------------------------------------------------------------------------
# prefill: one forward of B=1, T tokens returning all T x V logits.

def cmd_prefill():
    model = model_from_args().eval()
    idx = torch.randint(0, args.vocab, (1, args.T))
    with torch.inference_mode():
        times = timed(lambda: model(idx), args.reps, args.warmup)
    best, median = min(times), statistics.median(times)
    return dict(T=args.T, reps=args.reps, shape=shape_of(args),
                ms_best=best * 1e3, ms_median=median * 1e3,
                tok_s_best=args.T / best, tok_s_median=args.T / median)


# ----------------------------------------------------------------------------------------------
# decode: greedy generation of N tokens after a prompt of P tokens, two ways.

def generate_cacheless(model, idx, n):
    """nanoGPT's generate(): every step runs the whole (cropped) context, keeps the last logits."""
    for _ in range(n):
        idx_cond = idx if idx.size(1) <= model.block else idx[:, -model.block:]
        logits, _ = model(idx_cond, last_only=True)
        idx = torch.cat((idx, logits[:, -1].argmax(dim=-1, keepdim=True)), dim=1)
    return idx


def generate_cached(model, idx, n, stamps):
    """KV-cached: the prompt in one forward (its last logits give token 1), then one position
    per step. stamps receives the time after the prompt and after each step."""
    assert idx.size(1) + n <= model.block, "prompt + new tokens must fit the context"
    caches = model.new_caches(idx.size(0))
    logits, _ = model(idx, last_only=True, caches=caches, pos=0)
    pos = idx.size(1)
    stamps.append(time.perf_counter())
    for step in range(n):
        nxt = logits[:, -1].argmax(dim=-1, keepdim=True)
        idx = torch.cat((idx, nxt), dim=1)
        if step == n - 1:               # the last token needs no forward of its own
            break
        logits, _ = model(nxt, last_only=True, caches=caches, pos=pos)
        pos += 1
        stamps.append(time.perf_counter())
    return idx


def cmd_decode():
    if args.prompt_len < 1 or args.new_tokens < 1 or args.prompt_len + args.new_tokens > args.block:
        sys.exit(f"torch_peer: decode needs 1 <= prompt-len, 1 <= new-tokens and prompt-len + "
                 f"new-tokens <= block ({args.block})")
    model = model_from_args().eval()
    prompt = torch.randint(0, args.vocab, (1, args.prompt_len))
    n = args.new_tokens
    out = dict(prompt_len=args.prompt_len, new_tokens=n, reps=args.reps, shape=shape_of(args))
    with torch.inference_mode():
        # (a) nanoGPT's cacheless generation: N forwards over growing contexts
        ids_a = None

        def run_a():
            nonlocal ids_a
            ids_a = generate_cacheless(model, prompt, n)
        times = timed(run_a, args.reps, args.warmup)
        out["cacheless_s_best"] = min(times)
        out["cacheless_tok_s_best"] = n / min(times)
        out["cacheless_tok_s_median"] = n / statistics.median(times)

        # (b) KV cache: the prompt's forward gives token 1, then N-1 one-position steps
        totals, steps, prompt_times = [], [], []
        for rep in range(args.warmup + args.reps):
            stamps = [time.perf_counter()]
            ids_b = generate_cached(model, prompt, n, stamps)
            if rep >= args.warmup:
                totals.append(stamps[-1] - stamps[0])
                prompt_times.append(stamps[1] - stamps[0])
                steps.append(stamps[-1] - stamps[1])
        out["kv_prompt_ms_best"] = min(prompt_times) * 1e3
        out["kv_step_ms_best"] = min(steps) / max(1, n - 1) * 1e3
        out["kv_tok_s_best"] = (n - 1) / min(steps) if n > 1 else None           # steps only
        out["kv_tok_s_median"] = (n - 1) / statistics.median(steps) if n > 1 else None
        out["kv_total_tok_s_best"] = n / min(totals)                              # prompt included
        out["ids_match"] = bool(torch.equal(ids_a, ids_b))
        out["new_ids"] = ids_b[0, args.prompt_len:].tolist()
    return out


# ----------------------------------------------------------------------------------------------
# train: nanoGPT's training step on random tokens: forward, cross-entropy, backward, gradient
# clipping, AdamW (weight decay on 2-D parameters only), zero_grad.

def cmd_train():
    s = dict(SHAPES[args.config])
    batch = args.B or s["B"]
    seq = args.T or s["T"]
    model = build_model(s["n_layer"], s["n_head"], s["n_embd"], s["vocab"], s["block"]).train()
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95))

    # a random "corpus"; each iteration takes random windows, as nanoGPT's get_batch does
    data = torch.randint(0, s["vocab"], (100_000,))

    def get_batch():
        ix = torch.randint(len(data) - seq, (batch,))
        x = torch.stack([data[i:i + seq] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + seq] for i in ix])
        return x, y

    batches = [get_batch() for _ in range(args.warmup + args.iters)]  # drawn outside the timing
    losses, times = [], []
    for it, (x, y) in enumerate(batches):
        t0 = time.perf_counter()
        _, loss = model(x, y)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if it >= args.warmup:
            times.append(dt)
    return dict(config=args.config, B=batch, T=seq, iters=args.iters,
                shape={k: s[k] for k in ("n_layer", "n_head", "n_embd", "vocab", "block")},
                ms_median=statistics.median(times) * 1e3, ms_best=min(times) * 1e3,
                tok_s_median=batch * seq / statistics.median(times),
                loss_first=losses[0], loss_last=losses[-1])


# ----------------------------------------------------------------------------------------------
# gemm: C = A @ B, n x n float32, through torch (which hands it to its BLAS).

def cmd_gemm():
    n = args.n
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    times = timed(lambda: torch.mm(a, b, out=c), args.reps, args.warmup)
    flops = 2.0 * n ** 3
    return dict(n=n, reps=args.reps, gflops_best=flops / min(times) / 1e9,
                gflops_median=flops / statistics.median(times) / 1e9)


# ----------------------------------------------------------------------------------------------

def main():
    results = {"prefill": cmd_prefill, "decode": cmd_decode, "train": cmd_train, "gemm": cmd_gemm}[args.command]()
    line = {"peer": "pytorch", "torch": torch.__version__, "command": args.command,
            "threads": args.threads, "torch_threads": torch.get_num_threads(),
            "env": {v: os.environ.get(v) for v in ENV_VARS + ("OPENBLAS_CORETYPE",)},
            "env_set_here": SET_HERE,
            "openblas_core": OPENBLAS_CORE}
    line.update(results)
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
