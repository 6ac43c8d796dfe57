"""A plain residual stack of convolutions: ``u_{t+1} = u_t + net(u_t)``."""

from dataclasses import dataclass

from torch import nn

from hyco.synthetic import register_network


@dataclass
class ConvNetConfig:
    """The knobs of ``synthetic.convnet``."""

    width: int = 16
    depth: int = 3
    padding: str = "auto"  # from the physics' boundaries: circular when periodic, zeros with walls


@register_network("convnet", config=ConvNetConfig)
class ConvNet(nn.Module):
    residual = True  # an untrained network is the persistence forecast (the head starts at zero)

    def __init__(self, dim, in_channels, out_channels, width=16, depth=3, padding="circular"):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[dim]
        mode = "circular" if padding in ("circular", "periodic", "auto") else "zeros"
        layers, c = [], in_channels
        for _ in range(depth):
            layers += [conv(c, width, 3, padding=1, padding_mode=mode), nn.GELU()]
            c = width
        self.body = nn.Sequential(*layers)
        self.head = conv(width, out_channels, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.out_channels = out_channels

    @classmethod
    def from_config(cls, cfg, dim, in_channels, out_channels):
        return cls(dim, in_channels, out_channels, int(cfg["width"]), int(cfg["depth"]), str(cfg["padding"]))

    def forward(self, x):
        return x[:, : self.out_channels] + self.head(self.body(x))
