#!/usr/bin/python3
"""Golden values for minigpt's RLHF arithmetic (reward_model.hpp, ppo.hpp), computed in PyTorch.

Writes tests/data/rlhf/reference.json: fixed inputs and the outputs and gradients of the
formulas of Hugging Face TRL's reward and PPO trainers, written here again in torch (float64)
with autograd for every gradient. The C++ test (tests/test_rlhf_reference.cpp) runs minigpt on
the same inputs and compares.

Regenerate (from anywhere; the script finds the repository from its own location):

    /usr/bin/python3 tests/reference/make_rlhf_reference.py

It needs only Debian's python3-torch (1.13). The output is deterministic: running it twice gives
a byte-identical file. CI never runs it; the file is committed beside it.

What each formula follows (TRL, trl/trainer/ unless noted; v0.11 is the last release with the
original PPOTrainer, PPOv2 became today's PPOTrainer):
  bradley_terry    RewardTrainer.compute_loss: -logsigmoid(r_chosen - r_rejected).mean()
                   (+ center_rewards_coefficient * mean((r_chosen + r_rejected)**2)); accuracy
                   (r_chosen > r_rejected).mean()
  kl               PPOv2 train(): logr = ref_logprobs - logprobs; k1 = -logr,
                   k3 = (logr.exp() - 1) - logr
  rewards          PPOTrainer.compute_rewards (v0.11): non_score_reward = -kl_coef * kl;
                   reward[last_non_masked_index] += score
  advantages       PPOTrainer.compute_advantages (v0.11): values * mask, rewards * mask, the
                   lastgaelam loop over the whole padded length, returns = advantages + values,
                   masked_whiten(advantages, mask); padding filled with 0 afterwards (PPOv2)
  whiten_rewards   masked_whiten(rewards, mask, shift_mean=False), padding filled with 0 (PPOv2)
  masked_whiten    core.py masked_mean / masked_var (unbiased) / masked_whiten, rsqrt(var + 1e-8)
  policy loss      PPOTrainer.loss (v0.11): ratio = exp(logprobs - old_logprobs), pg_losses,
                   pg_losses2 with clamp(ratio, 1 - cliprange, 1 + cliprange),
                   masked_mean(max), pg_clipfrac = masked_mean(pg_losses2 > pg_losses),
                   approxkl = 0.5 * masked_mean((logprobs - old_logprobs)**2)
  value loss       PPOTrainer.loss (v0.11): vpredclipped = clip_by_value(vpreds, values - cliprange_value,
                   values + cliprange_value), vf_loss = 0.5 * masked_mean(max(vf_losses1, vf_losses2)),
                   vf_clipfrac = masked_mean(vf_losses2 > vf_losses1)
  total            loss = pg_loss + vf_coef * vf_loss
  adaptive kl      AdaptiveKLController.update (trainer/utils.py, v0.11):
                   value *= 1 + clip(current / target - 1, -0.2, 0.2) * n_steps / horizon
  rloo             RLOOTrainer.train() (v0.11): non_score_reward = (-kl_coef * kl).sum(1),
                   rlhf_reward = scores + non_score_reward reshaped (rloo_k, -1) (the batch is
                   the prompts repeated rloo_k times: row k * n + p answers prompt p),
                   baseline = (rlhf_reward.sum(0) - rlhf_reward) / (rloo_k - 1),
                   advantages = rlhf_reward - baseline, flattened; normalize_advantage:
                   (advantages - mean) / (std + 1e-8)

The script checks itself before writing: every autograd gradient against torch.autograd.gradcheck
(finite differences), and its GAE loop against the direct sum A_t = sum_l (gamma*lam)^l delta_{t+l}.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "data", "rlhf"))
OUT = os.path.join(OUT_DIR, "reference.json")

torch.set_default_dtype(torch.float64)
SEED = 20250905

# PPO settings: TRL's defaults, except kl_coef 0.1 so the penalty is visible in the numbers.
KL_COEF, CLIP, CLIP_V, VF_COEF, GAMMA, LAM = 0.1, 0.2, 0.2, 0.1, 1.0, 0.95
LENGTHS = [6, 3, 1, 5]   # B = 4 responses, padded to T = 6
B, T = len(LENGTHS), max(LENGTHS)
P = 7                    # reward-model pairs
CENTER = 0.01            # center_rewards_coefficient for the second Bradley-Terry case
KINK_GAP = 1e-3          # inputs are redrawn until no ratio or value sits this close to a kink


# ---- TRL's helpers, written again ----

def masked_mean(values, mask):
    return (values * mask).sum() / mask.sum()


def masked_var(values, mask, unbiased=True):
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        variance = variance * n / (n - 1)
    return variance


def masked_whiten(values, mask, shift_mean=True):
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened


def clip_by_value(x, tensor_min, tensor_max):
    return torch.max(torch.min(x, tensor_max), tensor_min)


def kl_of(logprobs, ref_logprobs, estimator, mask):
    logr = ref_logprobs - logprobs
    kl = -logr if estimator == "k1" else (logr.exp() - 1) - logr
    return kl * mask


def shaped_rewards(scores, kl, mask):
    non_score = -KL_COEF * kl
    rewards = non_score.clone()
    for b in range(B):
        last = int(mask[b].nonzero()[-1])
        rewards[b, last] += scores[b]
    return rewards, non_score


def advantages_of(rewards, values, mask, whiten_rewards=False):
    values = values * mask
    rewards = rewards * mask
    if whiten_rewards:
        rewards = masked_whiten(rewards, mask, shift_mean=False) * mask
    lastgaelam = 0
    reversed_ = []
    for t in reversed(range(T)):
        nextvalues = values[:, t + 1] if t < T - 1 else 0.0
        delta = rewards[:, t] + GAMMA * nextvalues - values[:, t]
        lastgaelam = delta + GAMMA * LAM * lastgaelam
        reversed_.append(lastgaelam)
    raw = torch.stack(reversed_[::-1]).transpose(0, 1)
    returns = raw + values
    advantages = masked_whiten(raw, mask) * mask
    return raw, advantages, returns


def gae_direct(rewards, values, lengths):
    """A_t = sum_l (gamma*lam)^l delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t, V_L = 0."""
    out = torch.zeros(B, T)
    for b, L in enumerate(lengths):
        v = [float(values[b, t]) for t in range(L)] + [0.0]
        delta = [float(rewards[b, t]) + GAMMA * v[t + 1] - v[t] for t in range(L)]
        for t in range(L):
            out[b, t] = sum((GAMMA * LAM) ** l * delta[t + l] for l in range(L - t))
    return out


def policy_loss(new_logprobs, old_logprobs, advantages, mask):
    ratio = torch.exp(new_logprobs - old_logprobs)
    pg_losses = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1.0 - CLIP, 1.0 + CLIP)
    loss = masked_mean(torch.max(pg_losses, pg_losses2), mask)
    clipfrac = masked_mean(torch.gt(pg_losses2, pg_losses).double(), mask)
    approxkl = 0.5 * masked_mean((new_logprobs - old_logprobs) ** 2, mask)
    return loss, clipfrac, approxkl


def value_loss(vpreds, values, returns, mask):
    vpredclipped = clip_by_value(vpreds, values - CLIP_V, values + CLIP_V)
    vf_losses1 = (vpreds - returns) ** 2
    vf_losses2 = (vpredclipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), mask)
    clipfrac = masked_mean(torch.gt(vf_losses2, vf_losses1).double(), mask)
    return loss, clipfrac


def bradley_terry(r_chosen, r_rejected, center=0.0):
    loss = -F.logsigmoid(r_chosen - r_rejected).mean()
    if center:
        loss = loss + center * torch.mean((r_chosen + r_rejected) ** 2)
    return loss


class AdaptiveKLController:
    def __init__(self, init_kl_coef, target, horizon):
        self.value, self.target, self.horizon = init_kl_coef, target, horizon

    def update(self, current, n_steps):
        proportional_error = min(max(current / self.target - 1, -0.2), 0.2)
        self.value *= 1 + proportional_error * n_steps / self.horizon


# ---- inputs ----

def draw_inputs(gen):
    mask = torch.zeros(B, T)
    for b, L in enumerate(LENGTHS):
        mask[b, :L] = 1
    logprobs = -torch.rand(B, T, generator=gen) * 3 - 0.05
    ref_logprobs = logprobs + torch.randn(B, T, generator=gen) * 0.4
    values = torch.randn(B, T, generator=gen) * 0.5
    scores = torch.randn(B, generator=gen) * 1.5
    # new log-probabilities: ratios spread across and beyond the clip range
    new_logprobs = logprobs + torch.randn(B, T, generator=gen) * 0.3
    vpreds = values + torch.randn(B, T, generator=gen) * 0.3
    r_chosen = torch.randn(P, generator=gen) * 2
    r_rejected = torch.randn(P, generator=gen) * 2
    kl_upstream = torch.randn(B, T, generator=gen)
    whiten_x = torch.randn(B, T, generator=gen) * 2 + 1
    # padding holds junk, as a padded batch may: every formula must ignore it
    for b, L in enumerate(LENGTHS):
        for t in range(L, T):
            logprobs[b, t] = 7.0
            ref_logprobs[b, t] = -9.0
            values[b, t] = 5.0
            new_logprobs[b, t] = 3.0
            vpreds[b, t] = -4.0
    return dict(mask=mask, logprobs=logprobs, ref_logprobs=ref_logprobs, values=values, scores=scores,
                new_logprobs=new_logprobs, vpreds=vpreds, r_chosen=r_chosen, r_rejected=r_rejected,
                kl_upstream=kl_upstream, whiten_x=whiten_x)


def near_kinks(x, advantages, returns):
    m = x["mask"].bool()
    ratio = torch.exp(x["new_logprobs"] - x["logprobs"])[m]
    for edge in (1 - CLIP, 1 + CLIP):
        if torch.any((ratio - edge).abs() < KINK_GAP):
            return True
    v, old = x["vpreds"][m], x["values"][m]
    for edge in (old - CLIP_V, old + CLIP_V):
        if torch.any((v - edge).abs() < KINK_GAP):
            return True
    # outside the range the larger of the two value terms must be clear
    r = returns[m]
    vc = clip_by_value(v, old - CLIP_V, old + CLIP_V)
    outside = (v - old).abs() > CLIP_V
    if torch.any((((v - r) ** 2 - (vc - r) ** 2).abs() < KINK_GAP) & outside):
        return True
    return False


def tolist(t):
    return [float(v) for v in t.reshape(-1)] if t.dim() <= 1 else [tolist(row) for row in t]


def main():
    gen = torch.Generator().manual_seed(SEED)
    while True:
        x = draw_inputs(gen)
        mask = x["mask"]
        kl1 = kl_of(x["logprobs"], x["ref_logprobs"], "k1", mask)
        rewards, _ = shaped_rewards(x["scores"], kl1, mask)
        _, advantages, returns = advantages_of(rewards, x["values"], mask)
        if not near_kinks(x, advantages, returns):
            break
    mask = x["mask"]
    out = {"seed": SEED, "lengths": LENGTHS,
           "config": {"kl_coef": KL_COEF, "cliprange": CLIP, "cliprange_value": CLIP_V, "vf_coef": VF_COEF,
                      "gamma": GAMMA, "lam": LAM, "center_rewards_coefficient": CENTER},
           "inputs": {k: tolist(v) for k, v in x.items() if k != "mask"}}

    # Bradley-Terry, plain and centred
    bt = {}
    for name, c in (("plain", 0.0), ("centered", CENTER)):
        rc = x["r_chosen"].clone().requires_grad_(True)
        rr = x["r_rejected"].clone().requires_grad_(True)
        loss = bradley_terry(rc, rr, c)
        loss.backward()
        assert torch.autograd.gradcheck(lambda a, b: bradley_terry(a, b, c),
                                        (x["r_chosen"].clone().requires_grad_(True),
                                         x["r_rejected"].clone().requires_grad_(True)))
        bt[name] = {"loss": float(loss), "d_chosen": tolist(rc.grad), "d_rejected": tolist(rr.grad)}
    bt["accuracy"] = float((x["r_chosen"] > x["r_rejected"]).double().mean())
    out["bradley_terry"] = bt

    # KL estimators and their gradients in logprobs (upstream: kl_upstream)
    kl = {}
    for est in ("k1", "k3"):
        lp = x["logprobs"].clone().requires_grad_(True)
        k = kl_of(lp, x["ref_logprobs"], est, mask)
        (k * x["kl_upstream"]).sum().backward()
        assert torch.autograd.gradcheck(lambda a: (kl_of(a, x["ref_logprobs"], est, mask) * x["kl_upstream"]).sum(),
                                        (x["logprobs"].clone().requires_grad_(True),))
        kl[est] = {"kl": tolist(k.detach()), "d_logprobs": tolist(lp.grad)}
    out["kl"] = kl

    # reward shaping (k1), advantages and returns; and with whitened rewards
    kl1 = kl_of(x["logprobs"], x["ref_logprobs"], "k1", mask)
    rewards, non_score = shaped_rewards(x["scores"], kl1, mask)
    raw, advantages, returns = advantages_of(rewards, x["values"], mask)
    direct = gae_direct(rewards, x["values"], LENGTHS)
    assert torch.allclose(raw * mask, direct, rtol=0, atol=1e-12), "GAE loop disagrees with the direct sum"
    _, adv_wr, ret_wr = advantages_of(rewards, x["values"], mask, whiten_rewards=True)
    out["rewards"] = {"rewards": tolist(rewards), "non_score_rewards": tolist(non_score)}
    out["advantages"] = {"raw": tolist(raw), "whitened": tolist(advantages), "returns": tolist(returns),
                         "whiten_rewards_advantages": tolist(adv_wr), "whiten_rewards_returns": tolist(ret_wr)}
    out["masked_whiten"] = {"whitened": tolist(masked_whiten(x["whiten_x"], mask)),
                            "whitened_keep_mean": tolist(masked_whiten(x["whiten_x"], mask, shift_mean=False)),
                            "mean": float(masked_mean(x["whiten_x"], mask)),
                            "var": float(masked_var(x["whiten_x"], mask))}

    # losses and gradients (old_logprobs = logprobs, old values = values)
    nl = x["new_logprobs"].clone().requires_grad_(True)
    vp = x["vpreds"].clone().requires_grad_(True)
    pg, pg_clipfrac, approxkl = policy_loss(nl, x["logprobs"], advantages, mask)
    vf, vf_clipfrac = value_loss(vp, x["values"], returns, mask)
    total = pg + VF_COEF * vf
    total.backward()
    d_total_logprobs, d_total_values = nl.grad.clone(), vp.grad.clone()
    nl2 = x["new_logprobs"].clone().requires_grad_(True)
    policy_loss(nl2, x["logprobs"], advantages, mask)[0].backward()
    vp2 = x["vpreds"].clone().requires_grad_(True)
    value_loss(vp2, x["values"], returns, mask)[0].backward()
    assert torch.autograd.gradcheck(lambda a: policy_loss(a, x["logprobs"], advantages, mask)[0],
                                    (x["new_logprobs"].clone().requires_grad_(True),))
    assert torch.autograd.gradcheck(lambda a: value_loss(a, x["values"], returns, mask)[0],
                                    (x["vpreds"].clone().requires_grad_(True),))
    out["policy"] = {"loss": float(pg), "clipfrac": float(pg_clipfrac), "approxkl": float(approxkl),
                     "d_new_logprobs": tolist(nl2.grad)}
    out["value"] = {"loss": float(vf), "clipfrac": float(vf_clipfrac), "d_vpreds": tolist(vp2.grad)}
    out["total"] = {"loss": float(total), "d_new_logprobs": tolist(d_total_logprobs),
                    "d_vpreds": tolist(d_total_values)}
    # the batch's mean KL per answer (objective/kl)
    out["mean_kl"] = float(kl1.sum(1).mean())

    # adaptive KL controller: a sequence of updates
    ctl = AdaptiveKLController(0.2, 6.0, 10000.0)
    updates = [[3.0, 256], [8.0, 256], [12.0, 512], [0.5, 128], [6.0, 256], [6.6, 1000]]
    values = []
    for current, n in updates:
        ctl.update(current, n)
        values.append(ctl.value)
    out["adaptive_kl"] = {"init": 0.2, "target": 6.0, "horizon": 10000.0, "updates": updates, "values": values}

    # RLOO's leave-one-out advantages, rloo_k = 2, on the same scores and k1 KL (TRL's row order)
    rloo_k = 2
    rlhf_reward = (x["scores"] + (-KL_COEF * kl1).sum(1)).reshape(rloo_k, -1)
    baseline = (rlhf_reward.sum(0) - rlhf_reward) / (rloo_k - 1)
    rloo_adv = (rlhf_reward - baseline).flatten()
    out["rloo"] = {"rloo_k": rloo_k, "rlhf_reward": tolist(rlhf_reward.flatten()), "advantages": tolist(rloo_adv),
                   "normalized": tolist((rloo_adv - rloo_adv.mean()) / (rloo_adv.std() + 1e-8))}

    os.makedirs(OUT_DIR, exist_ok=True)
    text = json.dumps(out, indent=1) + "\n"
    with open(OUT, "w") as f:
        f.write(text)
    with open(OUT) as f:
        assert json.load(f) == json.loads(text)
    print("wrote", OUT, len(text), "bytes")


if __name__ == "__main__":
    main()
