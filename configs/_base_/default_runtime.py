# Runtime shared by every mmintrovae config: mmagic's registries, the
# plugin's modules, logging, checkpoints, TensorBoard and local pictures.
default_scope = 'mmagic'
custom_imports = dict(imports=['mmintrovae'], allow_failed_imports=False)

randomness = dict(seed=2018, deterministic=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

# IntroVAE runs several forward passes of each network per step; this
# wrapper averages each update's gradients exactly once (see
# mmintrovae/engine/model_wrapper.py) instead of DDP's autograd hooks.
model_wrapper_cfg = dict(type='IntroVAEDistributedWrapper')
# BatchNorm statistics are per rank here (the wrapper averages the running
# statistics after each step); `model_wrapper_cfg = dict(sync_bn=True)`
# (the GPU schedule sets it) normalises with the statistics of all ranks'
# batches instead, on gloo (CPU) and NCCL alike. mmengine's own
# `sync_bn = 'torch'` needs GPUs (torch's SyncBatchNorm raises for CPU
# tensors).

default_hooks = dict(
    # mmengine's RuntimeInfoHook reads every logged value to the host every
    # iteration (a GPU sync per value); this one reads them once per logger
    # interval, in one transfer, with the same logged history.
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        interval=10000,
        by_epoch=False,
        max_keep_ckpts=5,
        less_keys=[],
        save_best=None),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Saves and restores the RNG states with each checkpoint, so --resume
    # continues with the same noise as an uninterrupted run.
    rng_state=dict(type='RNGStateHook'))
log_processor = dict(type='LogProcessor', window_size=100, by_epoch=False)
log_level = 'INFO'

vis_backends = [
    dict(type='VisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')

load_from = None
resume = False
