"""genmodels.checkpoints: atomic save, weights_only load, clear errors, and the load-or-train cache."""

from __future__ import annotations

import pickle

import pytest
import torch

import genmodels.checkpoints as ck
from genmodels.checkpoints import cache_path, load_checkpoint, load_or_train, load_state, save_checkpoint
from genmodels.errors import CheckpointError
from genmodels.training import History, train_loop


class Plain:
    """An arbitrary Python object: pickling it stores a reference to a class, which weights_only refuses."""

    def __init__(self):
        self.value = 42


class Payload:
    """A pickle that calls a function when it is loaded."""

    def __reduce__(self):  # what a malicious file would do: call a function on load
        return (print, ("this must never run on load",))


def _payload() -> dict:
    model = torch.nn.Linear(3, 2)
    return {"state_dict": model.state_dict(), "steps": 5, "name": "linear", "history": {"loss": [1.0, 0.5]}}


@pytest.fixture
def saved(tmp_path):
    payload = _payload()
    path = save_checkpoint(tmp_path / "sub" / "model.pt", payload)
    return path, payload


# ---------------------------------------------------------------------------------------- save and load
def test_round_trip(saved):
    path, payload = saved
    assert path.is_file() and path.parent.name == "sub"  # the folder is created
    record = load_checkpoint(path)
    assert record["format"] == ck.FORMAT and record["format_version"] == ck.FORMAT_VERSION
    assert record["steps"] == 5 and record["name"] == "linear" and record["history"] == {"loss": [1.0, 0.5]}
    assert record["state_dict"].keys() == payload["state_dict"].keys()
    for key, value in payload["state_dict"].items():
        assert torch.equal(record["state_dict"][key], value)
    # a plain weights_only load reads it too: only tensors and containers inside
    raw = torch.load(path, weights_only=True)
    assert torch.equal(raw["state_dict"]["weight"], payload["state_dict"]["weight"])
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left


def test_save_overwrites(saved):
    path, _ = saved
    save_checkpoint(path, {"steps": 6})
    assert load_checkpoint(path)["steps"] == 6


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(CheckpointError, match="nowhere.pt"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint either


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt.*not a readable checkpoint"):
        load_checkpoint(truncated)


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, bytes(range(256)) * 4])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("obj", [Plain(), Payload()], ids=["instance", "reduce"])
def test_pickled_objects_are_refused(tmp_path, capsys, obj):
    path = tmp_path / "evil.pt"
    torch.save({"format": ck.FORMAT, "format_version": 1, "state_dict": {}, "extra": obj}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out
    # the same with plain pickle (torch.load's legacy format)
    legacy = tmp_path / "evil.pkl"
    legacy.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(legacy)
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.parametrize("obj", [{"weight": torch.zeros(2)}, torch.zeros(3), [1, 2], {"format": "other"}])
def test_torch_file_that_is_not_a_genmodels_checkpoint(tmp_path, obj):
    path = tmp_path / "foreign.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="not a genmodels checkpoint"):
        load_checkpoint(path)


def test_newer_format_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "new.pt", {"format_version": ck.FORMAT_VERSION + 1})
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(path)


def test_load_state_into_another_shape():
    state = torch.nn.Linear(3, 2).state_dict()
    model = torch.nn.Linear(4, 2)
    before = model.weight.detach().clone()
    with pytest.raises(CheckpointError) as info:
        load_state(model, state, source="my.pt")
    message = str(info.value)
    assert "my.pt" in message and "Linear" in message
    assert "size mismatch for weight" in message and "[2, 3]" in message and "[2, 4]" in message
    assert torch.equal(model.weight, before)


def test_load_state_missing_keys():
    with pytest.raises(CheckpointError, match="bias"):
        load_state(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 3)})


def test_load_state_fits():
    source = torch.nn.Linear(3, 2)
    target = torch.nn.Linear(3, 2)
    load_state(target, source.state_dict())
    assert torch.equal(target.weight, source.weight) and torch.equal(target.bias, source.bias)


def test_interrupted_save_keeps_the_previous_checkpoint(saved, monkeypatch):
    path, payload = saved
    real_save = torch.save

    def interrupted_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")  # some bytes reach the temporary file ...
        raise KeyboardInterrupt  # ... then the learner presses Ctrl-C

    monkeypatch.setattr(ck.torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"steps": 999, "state_dict": {}})
    monkeypatch.setattr(ck.torch, "save", real_save)

    record = load_checkpoint(path)
    assert record["steps"] == 5
    assert torch.equal(record["state_dict"]["weight"], payload["state_dict"]["weight"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]
    assert not list(path.parent.glob(".*.tmp"))


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def failing_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ck.torch, "save", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path / "first.pt", {"steps": 1})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- load_or_train
class Trainer:
    """Counts the calls and really changes the weights, so that loading can be told from training."""

    def __init__(self, num_steps: int = 7):
        self.calls = 0
        self.num_steps = num_steps

    def __call__(self, model: torch.nn.Module) -> History:
        self.calls += 1
        x, y = torch.randn(64, 3), torch.randn(64, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

        def step(i):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": loss.detach()}

        return train_loop(step, self.num_steps, log_every=2)


CONFIG = {"in": 3, "out": 2, "steps": 7, "lr": 0.1}


def test_load_or_train_trains_once_then_loads(tmp_path, capsys):
    trainer = Trainer()
    torch.manual_seed(0)
    first = torch.nn.Linear(3, 2)
    history = load_or_train("lin", first, trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 1
    assert history.steps == [0, 2, 4, 6]
    path = cache_path("lin", CONFIG, tmp_path)
    assert path.is_file() and path.parent == tmp_path
    record = load_checkpoint(path)
    assert record["name"] == "lin" and record["config"] == CONFIG

    torch.manual_seed(1)
    second = torch.nn.Linear(3, 2)
    assert not torch.equal(second.weight, first.weight)
    again = load_or_train("lin", second, trainer, config=dict(reversed(list(CONFIG.items()))), cache_dir=tmp_path)
    assert trainer.calls == 1  # loaded, not trained (the key order of the config does not matter)
    assert again == history
    assert torch.equal(second.weight, first.weight) and torch.equal(second.bias, first.bias)
    assert "loaded trained weights from the cache" in capsys.readouterr().out


def test_load_or_train_new_config_trains_again(tmp_path):
    trainer = Trainer()
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config={**CONFIG, "lr": 0.2}, cache_dir=tmp_path)
    assert trainer.calls == 2
    assert len(list(tmp_path.glob("lin-*.pt"))) == 2
    load_or_train("other", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 3  # another name is another entry


def test_quick_and_full_never_share_a_cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMODELS_QUICK", "1")
    quick = cache_path("lin", CONFIG, tmp_path)
    trainer = Trainer()
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    monkeypatch.setenv("GENMODELS_QUICK", "0")
    full = cache_path("lin", CONFIG, tmp_path)
    assert quick != full and "quick" in quick.name and "full" in full.name
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 2
    assert quick.is_file() and full.is_file()


def test_cache_dir_defaults_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMODELS_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_path("lin", CONFIG).parent == tmp_path / "cache"
    load_or_train("lin", torch.nn.Linear(3, 2), Trainer(), config=CONFIG)
    assert cache_path("lin", CONFIG).is_file()


def test_corrupted_cache_is_retrained_with_a_warning(tmp_path):
    trainer = Trainer()
    path = cache_path("lin", CONFIG, tmp_path)
    path.write_bytes(b"not a checkpoint at all")
    model = torch.nn.Linear(3, 2)
    with pytest.warns(UserWarning, match="lin: cached checkpoint unusable.*training again"):
        history = load_or_train("lin", model, trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 1 and len(history) == 4
    assert torch.equal(load_checkpoint(path)["state_dict"]["weight"], model.weight)  # the cache is repaired


def test_cache_for_another_model_is_retrained_with_a_warning(tmp_path):
    trainer = Trainer()
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    with pytest.warns(UserWarning, match="does not fit"):
        load_or_train("lin", torch.nn.Linear(3, 2, bias=False), trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 2


def test_retrain_forces_training(tmp_path, monkeypatch):
    trainer = Trainer()
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path, retrain=True)
    assert trainer.calls == 2
    monkeypatch.setenv("GENMODELS_RETRAIN", "1")
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 3
    monkeypatch.delenv("GENMODELS_RETRAIN")
    load_or_train("lin", torch.nn.Linear(3, 2), trainer, config=CONFIG, cache_dir=tmp_path)
    assert trainer.calls == 3


def test_train_returning_none_gives_an_empty_history(tmp_path):
    model = torch.nn.Linear(3, 2)
    history = load_or_train("closed-form", model, lambda m: None, config={}, cache_dir=tmp_path)
    assert isinstance(history, History) and len(history) == 0
    again = load_or_train("closed-form", torch.nn.Linear(3, 2), lambda m: pytest.fail("trained"), config={},
                          cache_dir=tmp_path)
    assert len(again) == 0


# ------------------------------------------------------------------------- cached_model and recipes
def test_cached_model_seeds_builds_trains_once_and_returns_eval_mode(tmp_path, monkeypatch):
    from genmodels.checkpoints import cached_model
    from genmodels.recipes import Recipe

    monkeypatch.setenv("GENMODELS_CACHE_DIR", str(tmp_path))
    recipe = Recipe(batch_size=2, train_args={"lr": 0.1}, seed=5)
    x = torch.arange(8.0).reshape(4, 2)
    calls = []

    def train(model):
        calls.append(1)
        batch, = next(recipe.batches(x))
        return train_loop(lambda i: {"loss": model(batch).sum().detach()}, 1, progress=False)

    def build():
        return torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))

    first, history = cached_model("toy", build, train, recipe, 1, data="x")
    torch.manual_seed(recipe.seed)
    assert torch.equal(first[0].weight, build()[0].weight), "built right after seeding with recipe.seed"
    again, _ = cached_model("toy", build, train, recipe, 1, data="x")
    assert calls == [1] and not again.training and len(history) == 1
    assert torch.equal(first[0].weight, again[0].weight)
    cached_model("toy", build, train, recipe.replace(lr=0.2), 1, data="x")  # another recipe: another entry
    assert calls == [1, 1]


def test_a_recipe_is_frozen_and_its_batches_are_seeded():
    from dataclasses import FrozenInstanceError

    from genmodels.recipes import IMAGE_RECIPE, STYLEGAN_RECIPE, Recipe

    assert STYLEGAN_RECIPE.batch_size == 32 and STYLEGAN_RECIPE.train_args == IMAGE_RECIPE.train_args
    with pytest.raises(FrozenInstanceError):
        IMAGE_RECIPE.batch_size = 1
    with pytest.raises(TypeError):
        IMAGE_RECIPE.train_args["lr_g"] = 1.0
    recipe = Recipe(3, seed=7)
    x = torch.arange(12)
    assert torch.equal(next(recipe.batches(x))[0], next(recipe.batches(x))[0])
    assert recipe.as_dict() == {"batch_size": 3, "seed": 7}


def test_a_binarized_recipe_draws_fresh_binary_images_and_keeps_the_labels():
    from genmodels.recipes import BINARIZED_VAE_RECIPE, VAE_RECIPE, Recipe

    grey = torch.tensor([0.1, 0.5, 0.9]).repeat(6, 1) * torch.ones(6, 1)   # (6, 3) grey levels
    labels = torch.arange(6)
    recipe = Recipe(6, {"lr": 1e-3}, seed=3, binarize=True)
    batches = recipe.batches(grey, labels)
    draws = [next(batches) for _ in range(2000)]
    images = torch.stack([x for x, _ in draws])                            # (2000, 6, 3)
    assert set(images.unique().tolist()) == {0.0, 1.0}
    pixels = images.flatten(0, 1)                                          # (12000, 3) draws of each grey level
    se = (grey[0] * (1 - grey[0]) / len(pixels)).sqrt()
    assert ((pixels.mean(0) - grey[0]).abs() < 4 * se).all(), "each pixel is on with its grey level"
    assert not torch.equal(draws[0][0], draws[1][0]) or not torch.equal(draws[1][0], draws[2][0]), "fresh each batch"
    assert all(sorted(y.tolist()) == list(range(6)) for _, y in draws), "the labels are not binarized"
    again = recipe.batches(grey, labels)
    assert all(torch.equal(next(again)[0], x) for x, _ in draws[:50]), "seeded: the same draws every run"
    # grey-level recipes keep their batches and cache keys; the binarized one has its own key
    assert torch.equal(next(Recipe(6, seed=3).batches(grey))[0], next(Recipe(6, seed=3).batches(grey))[0])
    assert next(Recipe(6, seed=3).batches(grey))[0].unique().numel() == 3
    assert "binarize" not in VAE_RECIPE.as_dict() and BINARIZED_VAE_RECIPE.as_dict()["binarize"] is True
    assert BINARIZED_VAE_RECIPE.train_args == VAE_RECIPE.train_args
    assert VAE_RECIPE.replace(binarize=True) == BINARIZED_VAE_RECIPE
    with pytest.raises(TypeError, match="binarize must be True or False"):
        Recipe(6, binarize="yes")
