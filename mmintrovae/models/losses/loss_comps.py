"""Loss components that other mmagic models can list in their loss_config.

These follow mmagic's ``loss_comps`` convention (see
``mmagic/models/losses/loss_comps``): a ``data_info`` dict maps the loss's
argument names to keys of the dict a model collects in its training step,
and ``loss_name()`` gives the name under which the model logs the loss. For
example, mmagic's ``BaseGAN`` passes this dict to each module of
``loss_config.disc_auxiliary_loss`` in its discriminator step:

.. code-block:: python

    dict(gen=..., disc=..., disc_pred_fake=..., disc_pred_real=...,
         fake_imgs=..., real_imgs=..., batch_size=..., loss_scaler=...)

so ``data_info=dict(energy='disc_pred_fake')`` scores the discriminator's
output on fakes with the margin hinge. The math lives in the plain module
(:class:`MarginHingeLoss`); the component only routes inputs to it.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmagic.registry import MODELS

from .margin_loss import MarginHingeLoss


class _DataInfoLossComps(nn.Module):
    """Shared input routing of the loss components.

    Args:
        data_info (dict, optional): Maps the loss's argument names to keys of
            the outputs dict given to ``forward``. If None, ``forward``
            passes its arguments to the loss unchanged. Defaults to None.
        loss_name (str): Name of the loss in the model's logs; must start
            with ``'loss_'`` so that the model adds it to the total loss.
    """

    #: Names of the arguments of the wrapped loss, in order.
    input_names: Tuple[str, ...] = ()

    def __init__(self, data_info: Optional[Dict[str, str]],
                 loss_name: str) -> None:
        super().__init__()
        owner = type(self).__name__
        if not (isinstance(loss_name, str) and loss_name.startswith('loss_')):
            raise ValueError(
                f'{owner}: loss_name={loss_name!r} must start with "loss_"; '
                'mmagic models only back-propagate items named "loss_*".')
        if data_info is not None:
            if not isinstance(data_info, dict):
                raise TypeError(f'{owner}: data_info must be a dict mapping '
                                f'{self.input_names} to keys of the model '
                                f'outputs, got {type(data_info).__name__}.')
            unknown = sorted(set(data_info) - set(self.input_names))
            if unknown:
                raise ValueError(
                    f'{owner}: data_info has unknown argument(s) {unknown}; '
                    f'its keys must be among {self.input_names}.')
        self.data_info = data_info
        self._loss_name = loss_name

    def _parse_inputs(self, args: tuple, kwargs: dict) -> Tuple[tuple, dict]:
        """Picks the loss inputs out of the outputs dict via ``data_info``.

        Args:
            args (tuple): Positional arguments given to ``forward``.
            kwargs (dict): Keyword arguments given to ``forward``.

        Returns:
            tuple[tuple, dict]: The positional and keyword arguments for the
            wrapped loss.
        """
        if self.data_info is None:
            return args, kwargs
        kwargs = dict(kwargs)
        if len(args) == 1 and 'outputs_dict' not in kwargs:
            outputs_dict = args[0]
        elif len(args) == 0 and 'outputs_dict' in kwargs:
            outputs_dict = kwargs.pop('outputs_dict')
        else:
            raise NotImplementedError(
                f'{type(self).__name__}: with data_info set, pass the model '
                'outputs dict as the only positional argument or as '
                '`outputs_dict=`.')
        if not isinstance(outputs_dict, dict):
            raise TypeError(
                f'{type(self).__name__}: expected a dict of model outputs, '
                f'got {type(outputs_dict).__name__}.')
        for arg_name, key in self.data_info.items():
            if key not in outputs_dict:
                raise KeyError(
                    f'{type(self).__name__}: data_info maps {arg_name!r} to '
                    f'{key!r}, which is not among the model outputs '
                    f'{sorted(outputs_dict)}.')
            kwargs[arg_name] = outputs_dict[key]
        return (), kwargs

    def loss_name(self) -> str:
        """The name under which the model logs this loss.

        Returns:
            str: The loss name, starting with ``'loss_'``.
        """
        return self._loss_name


@MODELS.register_module()
class MarginHingeLossComps(_DataInfoLossComps):
    """The margin hinge ``[m - E]^+`` on an energy, as a loss component.

    Computes :class:`MarginHingeLoss` on ``energy``; in the EBGAN view the
    energy is a discriminator's output on fakes, which should stay above the
    margin.

    Args:
        margin (float): The margin ``m``; must be positive. Defaults to 100.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        per_sample (bool): If False, the hinge is applied to the batch mean
            of the energy; if True, to each sample and then reduced.
            Defaults to False.
        reduction (str): Batch reduction when ``per_sample`` is True:
            'mean', 'sum' or 'none'. Defaults to 'mean'.
        data_info (dict, optional): Maps ``energy`` to a key of the model
            outputs dict, e.g. ``dict(energy='disc_pred_fake')``. If None,
            ``forward(energy)`` takes the tensor directly. Defaults to None.
        loss_name (str): Name in the logs; must start with ``'loss_'``.
            Defaults to 'loss_margin_hinge'.
    """

    input_names = ('energy', )

    def __init__(self,
                 margin: float = 100.,
                 loss_weight: float = 1.0,
                 per_sample: bool = False,
                 reduction: str = 'mean',
                 data_info: Optional[Dict[str, str]] = None,
                 loss_name: str = 'loss_margin_hinge') -> None:
        super().__init__(data_info, loss_name)
        if margin == 'auto':
            raise ValueError(
                "MarginHingeLossComps: margin='auto' is calibrated by "
                'IntroVAE from its warm-up; in other models give the margin '
                'as a number (loss config key margin).')
        self.loss = MarginHingeLoss(
            margin=margin,
            loss_weight=loss_weight,
            per_sample=per_sample,
            reduction=reduction)

    def forward(self, *args, **kwargs) -> torch.Tensor:
        """Computes the weighted hinge.

        With ``data_info`` set, give the model outputs dict (positionally or
        as ``outputs_dict=``); otherwise give ``energy`` directly.

        Args:
            *args: The outputs dict, or ``energy``.
            **kwargs: ``outputs_dict`` or ``energy``.

        Returns:
            Tensor: The weighted hinge.
        """
        args, kwargs = self._parse_inputs(args, kwargs)
        return self.loss(*args, **kwargs)
