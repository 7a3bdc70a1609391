"""genmodels.training: the loop's logging and divergence checks, History, and fit actually fitting."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from genmodels.budget import steps
from genmodels.data import infinite_minibatches
from genmodels.errors import TrainingDivergedError
from genmodels.metrics import accuracy
from genmodels.models import ClassifierConfig, DigitClassifier, classifier_loss
from genmodels.training import History, fit, train_loop


# ------------------------------------------------------------------------------------------- train_loop
@pytest.mark.parametrize("num_steps, logged", [(10, [0, 3, 6, 9]), (11, [0, 3, 6, 9, 10]), (1, [0]), (0, [])])
def test_train_loop_logs_every_and_at_the_last_step(num_steps, logged):
    calls, seen = [], []
    history = train_loop(lambda i: calls.append(i) or {"loss": torch.tensor(float(i)), "acc": 2.0 * i},
                         num_steps, log_every=3, callback=lambda i, values: seen.append((i, values)))
    assert calls == list(range(num_steps))
    assert history.steps == logged and len(history) == len(logged)
    if logged:
        assert history["loss"] == [float(i) for i in logged]
        assert history["acc"] == [2.0 * i for i in logged]
        assert all(isinstance(v, float) for v in history["loss"])
    assert [i for i, _ in seen] == logged
    assert all(values == {"loss": float(i), "acc": 2.0 * i} for i, values in seen)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_train_loop_stops_on_non_finite_loss(bad):
    def step(i):
        return {"loss": torch.tensor(1.0), "kl": torch.tensor(bad if i == 5 else 0.5)}

    with pytest.raises(TrainingDivergedError) as info:
        train_loop(step, 20, log_every=1)
    message = str(info.value)
    assert "step 5" in message and "'kl'" in message
    assert "0.5" in message  # the last value that was still fine


def test_train_loop_stops_on_exploding_loss():
    with pytest.raises(TrainingDivergedError, match=r"step 2.*'loss'.*max_abs_loss"):
        train_loop(lambda i: {"loss": 10.0 ** (4 * i)}, 5, log_every=1)  # 1, 1e4, 1e8 > 1e6
    with pytest.raises(TrainingDivergedError, match="step 1"):
        train_loop(lambda i: {"loss": -11.0 * i}, 5, log_every=1, max_abs_loss=10.0)
    history = train_loop(lambda i: {"loss": 9.0}, 5, log_every=1, max_abs_loss=10.0)
    assert history["loss"] == [9.0] * 5


def test_train_loop_checks_only_logged_steps():
    """A NaN between two logging steps is not seen: the check costs one sync per log, not per step."""
    history = train_loop(lambda i: {"loss": float("nan") if i == 1 else 1.0}, 4, log_every=2)
    assert history.steps == [0, 2, 3]


@pytest.mark.parametrize("kwargs", [{"num_steps": -1}, {"num_steps": 2.0}, {"num_steps": 3, "log_every": 0}])
def test_train_loop_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        train_loop(lambda i: {"loss": 0.0}, **kwargs)


# ---------------------------------------------------------------------------------------------- History
def test_history_round_trip_and_last():
    history = History()
    for i, (loss, kl) in enumerate([(4.0, 1.0), (3.0, 2.0), (2.0, 4.0)]):
        history.append(10 * i, {"loss": loss, "kl": kl})
    state = history.state_dict()
    assert state == {"steps": [0, 10, 20], "values": {"loss": [4.0, 3.0, 2.0], "kl": [1.0, 2.0, 4.0]}}
    again = History.from_state_dict(state)
    assert again == history
    history.append(30, {"loss": 1.0})  # the saved state is a copy, not a view
    assert state["steps"] == [0, 10, 20] and again.steps == [0, 10, 20]
    assert again.last("loss") == 2.0
    assert again.last("loss", n=2) == 2.5
    assert again.last("kl", n=10) == pytest.approx(7.0 / 3)
    with pytest.raises(KeyError, match="loss, kl"):
        again["accuracy"]


# -------------------------------------------------------------------------------------------------- fit
def test_fit_solves_linear_regression():
    gen = torch.Generator().manual_seed(0)
    w_true, b_true = torch.tensor([[2.0, -3.0, 0.5]]), torch.tensor([1.0])
    x = torch.randn(2000, 3, generator=gen)
    y = x @ w_true.T + b_true + 0.1 * torch.randn(2000, 1, generator=gen)
    model = torch.nn.Linear(3, 1)
    initial = F.mse_loss(model(x), y).item()

    def loss_fn(m, xb, yb):
        return F.mse_loss(m(xb), yb)

    history = fit(model, loss_fn, infinite_minibatches(x, y, batch_size=100, rng=gen), 600, lr=0.05,
                  log_every=50)
    assert not model.training  # fit leaves the model in eval mode
    assert history.steps[-1] == 599
    final = F.mse_loss(model(x), y).item()
    assert initial > 1.0
    assert final < 0.0125  # the noise variance is 0.01
    assert torch.allclose(model.weight.detach(), w_true, atol=0.03)
    assert torch.allclose(model.bias.detach(), b_true, atol=0.03)
    assert history["loss"][-1] < history["loss"][0] / 50


def test_fit_logs_extra_entries_and_accepts_an_optimizer():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 5.0)
    x = torch.ones(8, 1)

    def loss_fn(m, xb):
        w = m.weight.squeeze() * 1.0  # a new tensor, not a view of the parameter
        return {"loss": (m(xb) - 2.0).pow(2).mean(), "w": w}

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, loss_fn, infinite_minibatches(x, batch_size=4), 50, optimizer=optimizer, log_every=1)
    assert history["w"][0] == pytest.approx(5.0)
    # gradient descent on (w - 2)^2 with lr 0.1: w_t - 2 = 3 * 0.8^t
    assert history["w"][10] == pytest.approx(2.0 + 3.0 * 0.8**10, rel=1e-4)
    assert model.weight.item() == pytest.approx(2.0, abs=1e-3)


def test_fit_trains_a_digit_classifier(mnist):
    torch.manual_seed(0)
    model = DigitClassifier(ClassifierConfig(channels=(8, 16), feature_dim=64))
    before = accuracy(model, mnist.x_test, mnist.y_test)
    batches = infinite_minibatches(mnist.x_train, mnist.y_train, batch_size=64,
                                   rng=torch.Generator().manual_seed(0))
    history = fit(model, classifier_loss, batches, steps("ch01.classifier"), lr=1e-3)
    after = accuracy(model, mnist.x_test, mnist.y_test)
    assert before < 0.3
    assert after > 0.9
    assert history.last("loss", 3) < math.log(10) / 5
    assert history.last("accuracy", 3) > 0.85
