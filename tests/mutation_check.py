"""Mutation check: break the package on purpose, one named change at a time, and expect a unit test to fail.

Run it from the repository root with the project's environment (the one of ``requirements.txt``)::

    python tests/mutation_check.py                          # all mutations (about 6 minutes on one core)
    python tests/mutation_check.py --list                   # each mutation: its file and the tests that must fail
    python tests/mutation_check.py r1-removed gp-removed    # only these
    python tests/mutation_check.py --cache-dir DIR          # keep the trained checkpoints between runs

How it works: each mutation replaces one piece of text (found exactly once) in one file of ``src/genmodels``,
in a *copy* of ``src/`` put first on ``PYTHONPATH`` (the script checks that the copy is what Python imports);
the real files are never touched. First the named tests run on the unmutated copy (the baseline: they must
pass), then, for each mutation, only the tests named with it run (``pytest -x``, quick budget,
``OMP_NUM_THREADS=1``). A mutation is **killed** when those tests fail and **survives** when they pass. A
mutation of code shared by several callers (``each=True``, e.g. ``losses.elbo_loss`` behind ``vae_loss`` and
``cvae_loss``) runs the test of each caller on its own and is killed only if every one of them fails.

What it reports: one line per mutation (``killed`` or ``SURVIVED``, its name, the seconds its tests took, the
tests), then ``killed K of N mutations (P%)`` and the names of the survivors. Exit status: 0 when every
mutation is killed, 1 if any survives, 2 if a mutation no longer applies (unknown file, or its old text
missing or ambiguous: port it to where the mechanism now lives when the code moves), if a name is unknown,
if pytest finds no test of those named, if the copy is not what Python imports, or if the baseline fails.

Not collected by pytest (no ``test_`` prefix). Issue 11 lists the mechanisms that must be covered; run this
after changing a mechanism, and add a mutation when you add one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to src/genmodels
    old: str
    new: str
    tests: tuple[str, ...]  # test files (relative to tests/, optionally ::test_name) of which one must fail
    each: bool = False  # shared code (one place, several callers): *each* of ``tests`` must fail, run one by one


MECHANISMS = ("test_mechanisms.py",)
REFERENCES = ("test_references.py",)
CONDITIONING = ("test_conditioning.py",)
SAMPLING = "test_conditioning.py::test_sampling_with_a_label_draws_that_digit"
CGAN_AND_ACGAN_SAMPLING = (f"{SAMPLING}[cgan]", f"{SAMPLING}[acgan]")  # with each=True
ACGAN_SAMPLING = (f"{SAMPLING}[acgan]",)
CVAE_SAMPLING = (f"{SAMPLING}[cvae]",)
ELBO_CALLERS = ("test_vae.py::test_vae_loss_beta_weighs_only_the_kl",
                "test_vae.py::test_cvae_loss_is_the_conditional_negative_elbo")
PIX2PIX_STEP = ("test_pix2pix.py::test_generator_step_follows_the_weighted_sum_of_pixel_and_adversarial_losses",)

MUTATIONS: list[Mutation] = [
    # ---- chapter 5: penalties, schedule, d_steps, eval mode, minibatch std (issue 11)
    Mutation("r1-removed", "gan_training.py",
             "loss = loss + 0.5 * r1_gamma * r1", "loss = loss", MECHANISMS),
    Mutation("r1-weight-doubled", "gan_training.py",
             "loss = loss + 0.5 * r1_gamma * r1", "loss = loss + r1_gamma * r1", MECHANISMS),
    Mutation("gp-removed", "gan_training.py",
             "loss = loss + gp_weight * gp", "loss = loss", MECHANISMS),
    Mutation("gp-target-norm-zero", "losses.py",
             "return (grad.reshape(len(grad), -1).norm(dim=1) - 1).pow(2)",
             "return grad.reshape(len(grad), -1).norm(dim=1).pow(2)", MECHANISMS),
    Mutation("lr-decay-constant", "training.py",
             "return 1.0 if i < start else 1 - (i - start) / (num_steps - start)", "return 1.0", MECHANISMS),
    Mutation("lr-decay-never-applied", "training.py",
             "    if decay_lr:\n        optimizers =", "    if False:\n        optimizers =", MECHANISMS),
    Mutation("lr-decay-dropped-by-train-gan", "gan_training.py",
             "decay_lr=decay_lr, decay_start=decay_start, monitor=monitor, **loop_kwargs)",
             "decay_lr=False, decay_start=decay_start, monitor=monitor, **loop_kwargs)", MECHANISMS),
    Mutation("d-steps-ignored", "gan_training.py",
             "for _ in range(d_steps):", "for _ in range(1):", MECHANISMS),
    Mutation("no-final-eval", "training.py",
             "    for player in players:\n        player.eval()", "    for player in players:\n        player.train()",
             MECHANISMS),
    Mutation("minibatch-std-zeroed", "models/gan.py",
             "std = h.std(dim=0, unbiased=False).mean()", "std = 0 * h.std(dim=0, unbiased=False).mean()",
             MECHANISMS),
    Mutation("minibatch-std-unbiased", "models/gan.py",
             "std = h.std(dim=0, unbiased=False).mean()", "std = h.std(dim=0, unbiased=True).mean()", MECHANISMS),
    # ---- label conditioning when sampling (issue 11: cgan, acgan, cvae with --label 7)
    Mutation("cgan-generator-ignores-label", "models/gan.py",
             "one_hot = nn.functional.one_hot(y, self.config.num_classes).to(z.dtype)",
             "one_hot = torch.zeros(len(z), self.config.num_classes)", CONDITIONING),
    # the GAN sampler of the MODELS table is shared by cgan and acgan: both callers' tests run for it
    Mutation("cli-gan-sample-drops-label", "registry.py",
             "    return model.sample(n, _labels(n, label), rng=rng)",
             "    return model.sample(n, None, rng=rng)", CGAN_AND_ACGAN_SAMPLING, each=True),
    # acgan's own row of the table: a sampler that drops the label for acgan alone
    Mutation("cli-acgan-sample-drops-label", "registry.py",
             "\"cli.acgan\", _acgan_train, _gan_sample,",
             "\"cli.acgan\", _acgan_train, lambda model, data, n, label, rng: model.sample(n, rng=rng),",
             ACGAN_SAMPLING),
    Mutation("acgan-sample-random-labels", "models/acgan.py",
             "        if labels is None:\n            labels = torch.randint(c.num_classes",
             "        if True:\n            labels = torch.randint(c.num_classes", CONDITIONING),
    Mutation("cli-cvae-sample-drops-label", "registry.py",
             "    y = torch.randint(model.config.num_classes, (n,), generator=rng) if label is None else _labels(n, label)",
             "    y = torch.randint(model.config.num_classes, (n,), generator=rng)", CVAE_SAMPLING),
    Mutation("cvae-decoder-ignores-label", "models/cvae.py",
             "return self.decoder(torch.cat([z, self.one_hot(y)], dim=1))",
             "return self.decoder(torch.cat([z, 0 * self.one_hot(y)], dim=1))", CONDITIONING),
    # ---- chapter 6: the entropy floor, the AUROC's standard error, early stopping (issue 14)
    Mutation("entropy-floor-one-sided", "anomaly.py",
             "(torch.special.entr(flat) + torch.special.entr(1 - flat)).sum(dim=1)",
             "torch.special.entr(flat).sum(dim=1)", ("test_anomaly.py",)),
    Mutation("auroc-error-without-q2", "anomaly.py",
             "(num_normals - 1) * (q2 - auc**2)", "(num_normals - 1) * (q1 - auc**2)", ("test_anomaly.py",)),
    Mutation("early-stopping-keeps-the-last-weights", "training.py",
             "        model.load_state_dict(best_state)\n", "        pass\n", ("test_anomaly.py",)),
    # ---- metrics against independent references (issue 11)
    Mutation("fid-cross-term-halved", "metrics.py",
             "torch.trace(cov_a + cov_b - 2 * cross)", "torch.trace(cov_a + cov_b - cross)", REFERENCES),
    Mutation("fid-judge-in-train-mode", "metrics.py",
             "    classifier.eval()\n", "\n", REFERENCES),
    Mutation("iwae-without-log-k", "metrics.py",
             "return (groups.logsumexp(dim=1) - math.log(k)).mean().item()",
             "return groups.logsumexp(dim=1).mean().item()", REFERENCES),
    Mutation("knn-radius-counts-the-point-itself", "knn_metrics.py",
             ".kthvalue(k + 1, dim=1)", ".kthvalue(k, dim=1)", ("test_knn_metrics.py",)),
    Mutation("precision-recall-swapped", "knn_metrics.py",
             "precision=manifold_coverage(generated, real, k)", "precision=manifold_coverage(real, generated, k)",
             ("test_knn_metrics.py",)),
    Mutation("memorization-against-the-closest-held-out", "knn_metrics.py",
             "(d_samples < d_held_out.min())", "(d_samples < d_held_out.max())", ("test_knn_metrics.py",)),
    Mutation("iwae-is-the-elbo", "metrics.py",
             "return (groups.logsumexp(dim=1) - math.log(k)).mean().item()",
             "return groups.mean(dim=1).mean().item()", REFERENCES),
    Mutation("log-weights-without-prior", "metrics.py",
             "rows.append(log_lik + log_prior - log_q)", "rows.append(log_lik - log_q)", REFERENCES),
    Mutation("log-weights-wrong-std", "metrics.py",
             "std = torch.exp(0.5 * logvar)", "std = torch.exp(logvar)", REFERENCES),
    Mutation("latent-activity-is-std", "metrics.py",
             "return torch.cat(mus).var(dim=0).cpu()", "return torch.cat(mus).std(dim=0).cpu()", REFERENCES),
    Mutation("latent-activity-first-labels-only", "metrics.py",
             "*_condition(labels, i, i + batch_size, device))[0]", "*_condition(labels, 0, batch_size, device))[0]",
             REFERENCES),
    Mutation("active-units-threshold-doubled", "metrics.py",
             "(latent_activity(model, x, labels=labels) > threshold)",
             "(latent_activity(model, x, labels=labels) > 2 * threshold)", REFERENCES),
    Mutation("ssim-uniform-window", "imaging.py",
             "gaussian_weights=True", "gaussian_weights=False", REFERENCES),
    Mutation("ssim-sample-covariance", "imaging.py",
             "use_sample_covariance=False", "use_sample_covariance=True", REFERENCES),
    # ---- losses and models whose tests were restatements before issue 11
    Mutation("kl-without-minus-one", "losses.py",
             "0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)",
             "0.5 * (mu.pow(2) + logvar.exp() - logvar).sum(dim=1)", ("test_losses.py",)),
    # vae_loss and cvae_loss share losses.elbo_loss: mutate it there, and run the tests of both callers
    Mutation("cvae-loss-ignores-beta", "losses.py",
             "return {\"loss\": (beta * kl + rec).mean()", "return {\"loss\": (kl + rec).mean()", ELBO_CALLERS,
             each=True),
    # ... and where each caller hands beta on to it
    Mutation("cvae-loss-drops-beta", "losses.py",
             "logits, mu, logvar = model(x, y)\n    return elbo_loss(logits, x, mu, logvar, beta)",
             "logits, mu, logvar = model(x, y)\n    return elbo_loss(logits, x, mu, logvar)",
             ("test_vae.py::test_cvae_loss_is_the_conditional_negative_elbo",)),
    Mutation("vae-loss-drops-beta", "losses.py",
             "logits, mu, logvar = model(x)\n    return elbo_loss(logits, x, mu, logvar, beta)",
             "logits, mu, logvar = model(x)\n    return elbo_loss(logits, x, mu, logvar)",
             ("test_vae.py::test_vae_loss_beta_weighs_only_the_kl",)),
    Mutation("negative-elbo-ignores-beta", "losses.py",
             "return beta * kl_std_normal(mu, logvar) - bernoulli_log_likelihood(logits, x)",
             "return kl_std_normal(mu, logvar) - bernoulli_log_likelihood(logits, x)", ("test_losses.py",)),
    Mutation("vae-loss-beta-on-reconstruction", "losses.py",
             "return {\"loss\": (beta * kl + rec).mean()", "return {\"loss\": (beta * (kl + rec)).mean()",
             ELBO_CALLERS, each=True),
    Mutation("trajectory-loss-sigma-not-squared", "models/trajectory.py",
             "logvar_x = 2 * math.log(model.config.sigma / model.config.scale)",
             "logvar_x = math.log(model.config.sigma / model.config.scale)",
             ("test_trajectories.py::test_trajectory_cvae_shapes_and_errors",)),
    Mutation("trajectory-wta-averages-the-heads", "models/trajectory.py",
             ".mean(dim=2).min(dim=1).values.mean()", ".mean(dim=2).mean(dim=1).mean()",
             ("test_trajectories.py::test_winner_takes_all_penalizes_only_the_closest_head",)),
    Mutation("trajectory-learned-prior-ignored-in-kl", "models/trajectory.py",
             "if model.prior_net is None:\n        kl = kl_std_normal(mu, logvar)",
             "if True:\n        kl = kl_std_normal(mu, logvar)",
             ("test_trajectories.py::test_learned_prior_kl_and_sampling",)),
    Mutation("junction-odds-ignore-the-lane", "trajectories.py",
             "p.log()[None] + lane_bias * x0[:, None] * side", "p.log()[None] + 0 * x0[:, None] * side",
             ("test_trajectories.py::test_lane_offset_changes_the_odds",)),
    Mutation("gaussian-classify-without-prior", "models/gaussian.py",
             "return torch.log_softmax(self.log_prob(x) + self.log_prior, dim=1)",
             "return torch.log_softmax(self.log_prob(x), dim=1)", ("test_models.py::test_ppca_classify_is_bayes_rule",)),
    Mutation("pix2pix-without-adversarial-term", "paired_training.py",
             "loss = loss + adversarial_weight * adversarial", "loss = loss", PIX2PIX_STEP),
    Mutation("pix2pix-adversarial-weight-ignored", "paired_training.py",
             "loss = loss + adversarial_weight * adversarial", "loss = loss + adversarial", PIX2PIX_STEP),    # ---- dynamic binarization (issue 13: likelihoods that are likelihoods)
    Mutation("recipe-binarize-ignored", "recipes.py",
             "return binarized(batches, rng) if self.binarize else batches", "return batches",
             ("test_checkpoints.py::test_a_binarized_recipe_draws_fresh_binary_images_and_keeps_the_labels",)),
    Mutation("binarize-same-draw-each-batch", "data.py",
             "        yield (binarize(images, rng), *rest)",
             "        yield (binarize(images, torch.Generator().manual_seed(0)), *rest)",
             ("test_data.py::test_binarize_draws_each_pixel_with_its_grey_level_as_probability",)),
]


def check_applicable(mutations: list[Mutation]) -> list[str]:
    """Problems with the list: unknown files, old text missing or found more than once, duplicate names."""
    problems, names = [], set()
    for m in mutations:
        if m.name in names:
            problems.append(f"{m.name}: duplicate name")
        names.add(m.name)
        path = SRC / "genmodels" / m.file
        if not path.is_file():
            problems.append(f"{m.name}: no file src/genmodels/{m.file}")
            continue
        count = path.read_text().count(m.old)
        if count != 1:
            problems.append(f"{m.name}: old text found {count} times in src/genmodels/{m.file} (must be exactly once)")
        for test in m.tests:
            if not (ROOT / "tests" / test.split("::")[0]).is_file():
                problems.append(f"{m.name}: no test file tests/{test}")
    return problems


def run_tests(src_dir: Path, tests: tuple[str, ...], cache_dir: str) -> tuple[bool, float, str]:
    """pytest on ``tests`` with ``src_dir`` first on the path: (passed, seconds, last lines of output)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_dir), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "GENMODELS_QUICK": "1", "GENMODELS_CACHE_DIR": cache_dir, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:randomly",
               *[str(ROOT / "tests" / t) for t in tests]]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    if result.returncode in (4, 5):  # a test named wrongly or nothing collected: no verdict, fix the list
        raise LookupError(f"pytest found no such tests ({', '.join(tests)}):\n{tail}")
    return result.returncode == 0, time.perf_counter() - start, tail


def copy_of_src(workdir: Path, mutation: Mutation | None) -> Path:
    """A fresh copy of src/ under ``workdir`` with ``mutation`` applied; checks that the copy is what Python imports."""
    target = workdir / "src"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SRC, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if mutation is not None:
        path = target / "genmodels" / mutation.file
        text = path.read_text()
        assert text.count(mutation.old) == 1, mutation.name
        path.write_text(text.replace(mutation.old, mutation.new))
    return target


def imported_from(src_dir: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(src_dir)}
    out = subprocess.run([sys.executable, "-c", "import genmodels; print(genmodels.__file__)"], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--skip-baseline", action="store_true", help="do not first run the tests unmutated")
    parser.add_argument("--cache-dir", default=None, help="checkpoint cache shared by the runs (default: a temporary one)")
    args = parser.parse_args(argv)

    problems = check_applicable(MUTATIONS)
    if problems:
        print("mutations that no longer apply (fix the list):", *problems, sep="\n  ", file=sys.stderr)
        return 2
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:<38} src/genmodels/{m.file:<20} -> {', '.join(m.tests)}")
        return 0
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"unknown mutations: {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]

    with tempfile.TemporaryDirectory(prefix="genmodels-mutants-") as tmp:
        workdir = Path(tmp)
        cache_dir = args.cache_dir or str(workdir / "cache")
        where = imported_from(copy_of_src(workdir, None))
        if not where.startswith(str(workdir)):
            print(f"the copy of src/ is not what Python imports ({where}): check PYTHONPATH", file=sys.stderr)
            return 2
        if not args.skip_baseline:
            named = {t for m in chosen for t in m.tests}
            files = tuple(sorted(t for t in named if t.split("::")[0] == t or t.split("::")[0] not in named))
            passed, seconds, tail = run_tests(copy_of_src(workdir, None), files, cache_dir)
            print(f"baseline (no mutation): {'pass' if passed else 'FAIL'} in {seconds:.0f} s: {', '.join(files)}")
            if not passed:
                print(tail, file=sys.stderr)
                return 2
        survived = []
        for m in chosen:
            mutant = copy_of_src(workdir, m)
            if m.each:  # killed only if every caller's test fails on its own
                runs = [run_tests(mutant, (test,), cache_dir) for test in m.tests]
                passed, seconds = any(r[0] for r in runs), sum(r[1] for r in runs)
            else:
                passed, seconds, tail = run_tests(mutant, m.tests, cache_dir)
            verdict = "SURVIVED" if passed else "killed"
            scope = "each of " if m.each else ""
            print(f"{verdict:<9} {m.name:<38} {seconds:5.0f} s  ({scope}{', '.join(m.tests)})", flush=True)
            if passed:
                survived.append(m.name)
    killed = len(chosen) - len(survived)
    print(f"\nkilled {killed} of {len(chosen)} mutations ({killed / len(chosen):.0%})")
    if survived:
        print("survived:", ", ".join(survived))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
