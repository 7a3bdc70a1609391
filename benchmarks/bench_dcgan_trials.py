"""One chapter-4 DCGAN trial (issue 13), trained and judged exactly as the chapter judges its DCGAN.

The chapter's networks (``DCGAN_DIGITS``) and the paper's recipe (``DCGAN_RECIPE``), with one or more levers
changed from the command line; the first 1,000 of 2,000 samples drawn with ``torch.Generator().manual_seed(1)``
from G in eval mode, read by chapter 1's judge (``load_digit_classifier``): the share read with p >= 0.9 and
the entropy (bits) of the judge's argmax labels. Training time is the CPU time of this process, torch on one
thread. Each trial appends one JSON line to ``--out``.

    python benchmarks/bench_dcgan_trials.py NAME [steps=2000] [bs=64] [ch=16] [mbstd=1] [aug=translation,cutout]
                                                 [r1=0.1] [lr=2e-4] [decay=0.5] [--out trials.jsonl]
"""

from __future__ import annotations

import json
import sys
import time

import torch

from genmodels import setup_chapter
from genmodels.data import load_mnist
from genmodels.gan_training import train_gan
from genmodels.judges import load_digit_classifier
from genmodels.models import GAN, DCGANConfig
from genmodels.recipes import DCGAN_DIGITS, DCGAN_RECIPE


def main(argv: list[str]) -> dict:
    out = argv[argv.index("--out") + 1] if "--out" in argv else "dcgan_trials.jsonl"
    argv = [a for i, a in enumerate(argv) if a != "--out" and (i == 0 or argv[i - 1] != "--out")]
    name, opt = argv[0], dict(a.split("=", 1) for a in argv[1:])
    device = setup_chapter(seed=0)
    mnist = load_mnist(device=device)
    judge, _ = load_digit_classifier(mnist, device)
    torch.manual_seed(0)
    config = {**DCGAN_DIGITS, "channels": int(opt.get("ch", DCGAN_DIGITS["channels"])),
              "minibatch_std": opt.get("mbstd", "0") == "1"}
    gan = GAN(DCGANConfig(**config)).to(device)
    recipe = DCGAN_RECIPE.replace(batch_size=int(opt.get("bs", DCGAN_RECIPE.batch_size)))
    args = dict(recipe.train_args)
    if "lr" in opt:
        args["lr_g"] = args["lr_d"] = float(opt["lr"])
    if "r1" in opt:
        args["r1_gamma"] = float(opt["r1"])
    if "decay" in opt:  # both rates decayed linearly to 0 from this fraction of the steps on
        args["decay_lr"], args["decay_start"] = True, float(opt["decay"])
    if "aug" in opt:
        args["augment"] = opt["aug"]
    start = time.process_time()
    train_gan(gan.generator, gan.discriminator, recipe.batches(mnist.x_train), int(opt.get("steps", 2000)),
              latent_dim=gan.config.latent_dim, log_every=100, seed=recipe.seed, **args)
    cpu = time.process_time() - start
    fakes = gan.eval().sample(2000, rng=torch.Generator().manual_seed(1))[:1000]  # as the chapter draws them
    with torch.no_grad():
        p = judge(fakes).softmax(1)
    share = torch.bincount(p.argmax(1).cpu(), minlength=10).float() / len(p)
    entropy = -(share[share > 0] * share[share > 0].log2()).sum().item()
    row = {"name": name, **opt, "confident": round((p.max(1).values >= 0.9).float().mean().item(), 3),
           "entropy": round(entropy, 3), "cpu_s": round(cpu, 1), "share": [round(s, 3) for s in share.tolist()]}
    print(json.dumps(row))
    with open(out, "a") as f:
        f.write(json.dumps(row) + "\n")
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
