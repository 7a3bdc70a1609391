"""The live diffusion explorer (chapter 12): one digit's DDIM reverse process, computed in the page.

One DDIM step (eta = 0, :func:`genmodels.models.diffusion.ddim_sample`) is exported as one ONNX graph: inputs
``x`` (B, 784) in the model's [-1, 1] scale, the step's times ``t`` and ``s`` (B,) (integers as floats, s < t)
and the label ``y`` (B,) (a float); outputs ``x_next`` (B, 784) and ``x0`` (B, 784), the clipped guess of the
clean digit. Classifier-free guidance is inside the graph: the denoiser runs on the label and on the "no label"
token in one batch of 2B, ``(1 + w) eps(y) - w eps(none)``; the noise schedule's abar_t is a constant of the
graph. The page runs the step ``num_steps`` times from x_T (a seeded normal draw, "noise #n", or the build's
fixed x_T) and shows x_t and the guess at the step the slider chooses. How the files travel:
:mod:`genmodels.explorers`.
"""

from __future__ import annotations

import copy

import torch
import traitlets
from torch import nn

from . import ASSETS, _OneNetwork, export_onnx, publish_model

__all__ = ["DiffusionSteps", "diffusion_steps", "ddim_times"]


def ddim_times(schedule_steps: int, num_steps: int) -> list[int]:
    """DDIM's steps T = t_0 > ... > t_num_steps = 0, evenly spaced and rounded (as ``ddim_sample`` takes them)."""
    return torch.linspace(schedule_steps, 0, num_steps + 1).round().long().tolist()


class _DDIMStep(nn.Module):
    """(x (B, 784), t (B,), s (B,), y (B,)) -> (x_s, x0_hat): one guided, clipped DDIM step from t to s."""

    def __init__(self, denoiser: nn.Module, alpha_bars: torch.Tensor, schedule_steps: int, guidance: float,
                 num_classes: int, clip_x0: float | None):
        super().__init__()
        self.denoiser, self.schedule_steps, self.guidance = denoiser, schedule_steps, float(guidance)
        self.num_classes, self.clip_x0 = num_classes, clip_x0
        self.register_buffer("alpha_bars", alpha_bars.float())   # as ddim_sample reads them: cast to x's float32

    def forward(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor, y: torch.Tensor):
        image = x.reshape(-1, 1, 28, 28)
        time = t / self.schedule_steps                                             # NoiseSchedule.time
        labels = y.long()
        both = self.denoiser(torch.cat([image, image]), torch.cat([time, time]),
                             torch.cat([labels, torch.full_like(labels, self.num_classes)]))
        cond, uncond = both.chunk(2)
        eps = ((1 + self.guidance) * cond - self.guidance * uncond).flatten(1)     # guided()
        abar_t = self.alpha_bars[t.long()].unsqueeze(1)
        abar_s = self.alpha_bars[s.long()].unsqueeze(1)
        x0 = (x - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()                       # NoiseSchedule.predict_x0
        if self.clip_x0 is not None:
            x0 = x0.clamp(-self.clip_x0, self.clip_x0)
            eps = (x - abar_t.sqrt() * x0) / (1 - abar_t).sqrt()
        return abar_s.sqrt() * x0 + (1 - abar_s).sqrt() * eps, x0


class DiffusionSteps(_OneNetwork):
    """Label buttons, a 'new noise' button and a step slider over one digit's DDIM reverse process: x_t and the
    guess of x_0 at the chosen step, the whole process computed in the page when the label or noise changes."""

    _esm = (ASSETS / "runtime.js").read_text() + (ASSETS / "diffusion.js").read_text()
    step_file = traitlets.Unicode("").tag(sync=True)      # under explorers/ ("" = ask the kernel)
    times = traitlets.List().tag(sync=True)               # [T, ..., 0]: the steps
    x_T = traitlets.List().tag(sync=True)                 # noise #0: the build's fixed x_T (784 floats)
    label = traitlets.Int(7).tag(sync=True)               # the chosen label (written back)
    noise = traitlets.Int(0).tag(sync=True)               # 0 = x_T, n = the n-th seeded normal draw
    step = traitlets.Int(0).tag(sync=True)                # the slider: 0 = x_T, len(times) - 1 = the digit
    caption = traitlets.Unicode("").tag(sync=True)        # the text alternative


def diffusion_steps(denoiser: nn.Module, schedule, x_T: torch.Tensor, *, label: int = 7, guidance: float = 2.0,
                    clip_x0: float | None = 1.0, num_steps: int = 25, num_classes: int = 10,
                    name: str = "ddim-step") -> DiffusionSteps:
    """Export one guided DDIM step of ``denoiser`` (``model(x, t / T, y)`` -> eps, images (B, 1, 28, 28) in
    [-1, 1]) on ``schedule`` (a :class:`NoiseSchedule`) to ONNX; the live explorer of the reverse process from
    ``x_T`` (one digit's noise, 784 numbers) with ``num_steps`` steps."""
    x_T = x_T.detach().float().cpu().reshape(-1)
    if x_T.numel() != 784:
        raise ValueError(f"x_T must be one 28 x 28 digit's noise (784 numbers), got {x_T.numel()}")
    if not 0 <= label < num_classes:
        raise ValueError(f"label must be in [0, {num_classes}), got {label}")
    if not 1 <= num_steps <= schedule.num_steps:
        raise ValueError(f"num_steps must be in [1, {schedule.num_steps}] (the schedule's steps), got {num_steps}")
    step = _DDIMStep(copy.deepcopy(denoiser).float().cpu(), schedule.alpha_bars, schedule.num_steps, guidance,
                     num_classes, clip_x0).eval().requires_grad_(False)
    onnx = export_onnx(step, (torch.zeros(2, 784), torch.full((2,), 1000.0), torch.full((2,), 960.0),
                              torch.zeros(2)), ["x", "t", "s", "y"], ["x_next", "x0"])
    times = ddim_times(schedule.num_steps, num_steps)
    path, guesses, x = [x_T.tolist()], [], x_T.unsqueeze(0)
    with torch.no_grad():                                      # the build's check: the process from x_T in PyTorch
        for t, s in zip(times[:-1], times[1:]):
            x, x0 = step(x, torch.tensor([float(t)]), torch.tensor([float(s)]), torch.tensor([float(label)]))
            path.append(x[0].tolist())
            guesses.append(x0[0].tolist())
    check = {"x_T": x_T.tolist(), "label": label, "times": times, "path": path, "guesses": guesses}
    return DiffusionSteps(
        onnx, step_file=publish_model(name, onnx, check), times=times, x_T=x_T.tolist(),
        label=label,
        caption=(f"Live explorer: one digit's reverse diffusion, computed in your browser: {num_steps} DDIM steps "
                 f"from pure noise x_{times[0]} to a digit x_0, with classifier-free guidance (w = {guidance:g}: the "
                 "denoiser runs with and without the label at every step). Move the step slider (arrow keys) to "
                 "see x_t and the network's guess of the clean digit at that step; choose the label with the "
                 "buttons or the number keys 0-9; 'new noise' (or the R key) draws another x_T. The step, the "
                 "label and the noise are read out as text."))
