# The 2-CPU-core budget of `make demo` and `make study`: Adam with the
# paper's lr (fp32, one optimizer per network) for 1,200 iterations (about
# 15 min on 2 cores: 0.5 s per warm-up iteration, 1 s per introspective
# one, measured on the development machine), a log line every 50 iterations,
# grids every 300, the stability guard, and the checkpoints of iterations
# 600 and 1,200 (the last one kept), on the shared runtime.
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    encoder=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999))),
    decoder=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999))))

# No validation while training (val_begin past the end): tools/test.py
# evaluates the final checkpoint.
train_cfg = dict(by_epoch=False, max_iters=1200, val_begin=1201)
custom_hooks = [
    dict(type='IntroVAEVisualizationHook', interval=300),
    dict(type='IntroVAEStabilityGuardHook'),
]
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=600, max_keep_ckpts=1))
