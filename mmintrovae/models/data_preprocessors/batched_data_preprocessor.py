"""mmagic's ``DataPreprocessor`` with the data samples handled as a batch."""
from typing import List, Optional

import torch
from mmagic.models import DataPreprocessor
from mmagic.registry import MODELS
from mmagic.structures import DataSample

SampleList = List[DataSample]


@MODELS.register_module()
class BatchedDataPreprocessor(DataPreprocessor):
    """``DataPreprocessor`` that converts and normalises ``data_keys`` once
    per batch instead of once per image.

    mmagic's preprocessor walks the batch image by image: a channel-order
    conversion, a normalisation and a ``set_metainfo`` (which deep-copies
    ``mean`` and ``std``) per sample, then ``DataSample.stack``. This class
    stacks first (the tensors are already on the model's device) and runs
    the conversion and the normalisation as one tensor operation on the
    ``(N, C, H, W)`` batch. Outputs are the same as mmagic's: the same
    values, fields and stacked metainfo (one entry per sample; ``set_metainfo``
    deep-copies ``mean``/``std`` once per batch, not once per image).

    The batched path needs what IntroVAE's pipelines give: stacked data
    samples (``stack_data_sample=True``), every ``data_keys`` field a
    tensor of one shape and one channel order across the batch. Any other
    batch goes through mmagic's per-sample code unchanged. Arguments are
    those of :class:`mmagic.models.DataPreprocessor`.
    """

    def _preprocess_data_sample(self, data_samples: SampleList,
                                training: bool) -> DataSample:
        """Converts and normalises ``data_keys`` of the whole batch at once.

        Args:
            data_samples (list[DataSample]): The batch's data samples.
            training (bool): Normalise and convert to
                ``output_channel_order`` (training) or convert to BGR only.

        Returns:
            DataSample: The stacked, processed data samples (or mmagic's
            result where the batch cannot be processed as one).
        """
        orders = self._batch_orders(data_samples)
        if orders is None:
            return super()._preprocess_data_sample(data_samples, training)
        if training:
            target_order, do_norm = self.output_channel_order, True
        else:
            target_order, do_norm = 'BGR', False
        stacked = DataSample.stack(data_samples)
        size = len(data_samples)
        for key in self.data_keys:
            data, channel_order = self._do_conversion(
                stacked.get(key), orders[key], target_order)
            stacked.set_data({key: self._do_norm(data, do_norm)})
            stacked.set_metainfo({
                f'{key}_enable_norm': [self._enable_normalize] * size,
                f'{key}_output_channel_order': [channel_order] * size,
                f'{key}_mean': [self.mean] * size,
                f'{key}_std': [self.std] * size,
            })
        return stacked

    def _batch_orders(self, data_samples: Optional[SampleList]) -> dict:
        """The channel order of each data key when the batch can be
        processed as one tensor, else None."""
        if (not self.stack_data_sample or not self.data_keys
                or not data_samples or self.input_view is not None):
            return None
        orders = {}
        for key in self.data_keys:
            values = [sample.get(key) for sample in data_samples]
            if not all(isinstance(v, torch.Tensor) for v in values):
                return None
            if len({(tuple(v.shape), v.dtype, v.device) for v in values}) > 1:
                return None
            if values[0].ndim != 3:  # (C, H, W) images only
                return None
            found = {
                self._parse_channel_order(key, value, sample)
                for value, sample in zip(values, data_samples)
            }
            if len(found) != 1:
                return None
            orders[key] = found.pop()
        return orders
