# The base of the training configs that the subprocess tests write
# (tests/test_engine): the demo config with 16x16 networks, a data set
# without Resize, 2 images per batch in this process, no validation or
# test, a log line every iteration and deterministic runs. Each test's
# config sets what is its own: data_root, max_iters, the model's extras,
# hooks, imports, and a visualizer name per config (the runs of one process
# must not share the default 'visualizer' instance: it would write into the
# first run's work dir).
_base_ = ['../../configs/introvae_demo-64.py']

model = dict(image_size=16, channels=(4, 8), latent_dim=6)

# No Flip: a test that wants one sets its own pipeline.
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(by_epoch=False, val_interval=10**9, val_begin=10**9)

default_hooks = dict(logger=dict(interval=1))
log_processor = dict(window_size=1)
visualizer = dict(vis_backends=[dict(type='VisBackend')])
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(cudnn_benchmark=False)
custom_hooks = [dict(type='IntroVAEStabilityGuardHook')]
